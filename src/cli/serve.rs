//! `serve`, `migrate` and `healthcheck`.

use super::{ConfigArgs, Failure, fail, open_store};
use crate::server::Server;

pub(super) async fn serve(args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let server = Server::bind(config).await.map_err(fail)?;
    let addr = server.local_addr().map_err(fail)?;
    // One line on stdout that scripts can wait for and parse.
    println!(
        "tollgate listening on {addr} with issuer {}",
        server.issuer()
    );
    tracing::info!(%addr, issuer = server.issuer(), "ready");
    server
        .run_until(shutdown_signal())
        .await
        .map_err(|e| fail(format!("server error: {e}")))
}

pub(super) async fn migrate(args: &ConfigArgs) -> Result<(), Failure> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    store.close().await;
    println!(
        "tollgate: the {} database is up to date",
        store.backend_name()
    );
    Ok(())
}

pub(super) async fn healthcheck(url: Option<String>, args: &ConfigArgs) -> Result<(), Failure> {
    let url = match url {
        Some(url) => url,
        None => {
            let mut addr = args.load()?.bind;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}{}", crate::http::HEALTH)
        }
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(fail)?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            println!("tollgate: healthy ({url})");
            Ok(())
        }
        Ok(response) => Err(fail(format!(
            "unhealthy: {url} answered {}",
            response.status()
        ))),
        Err(error) => Err(fail(format!("unhealthy: {url}: {error}"))),
    }
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
