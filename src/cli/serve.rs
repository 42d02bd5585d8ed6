//! `serve`, `migrate` and `healthcheck`.

use super::{ConfigArgs, Failure, fail, open_store};
use crate::server::Server;

pub(super) async fn serve(args: &ConfigArgs) -> Result<(), Failure> {
    if let Some(tenant) = &args.tenant {
        return Err(Failure {
            code: 2,
            message: format!(
                "serve serves every tenant; --tenant {tenant} is for the commands that act on \
                 one tenant's state (token, events, clients, keys, device, ctl, ...)"
            ),
        });
    }
    let config = args.load_all()?;
    let server = Server::bind(config).await.map_err(fail)?;
    let addr = server.local_addr().map_err(fail)?;
    // One line on stdout that scripts can wait for and parse.
    println!(
        "tollgate listening on {addr} with issuer {}",
        server.issuer()
    );
    tracing::info!(%addr, issuer = server.issuer(), "ready");
    for tenant in server.tenants() {
        let name = tenant
            .config
            .tenant
            .as_ref()
            .map_or("", |t| t.name.as_str());
        println!("tollgate tenant {name} with issuer {}", tenant.issuer);
        tracing::info!(tenant = name, issuer = %tenant.issuer, "tenant ready");
    }
    server
        .run_until(shutdown_signal())
        .await
        .map_err(|e| fail(format!("server error: {e}")))
}

/// Migrates the store of `--tenant`, or without it every tenant's store.
pub(super) async fn migrate(args: &ConfigArgs) -> Result<(), Failure> {
    let configs = if args.tenant.is_some() {
        vec![args.load()?]
    } else {
        let all = args.load_all()?;
        let mut configs: Vec<_> = all.tenants.iter().map(|t| all.effective(t)).collect();
        configs.insert(0, all);
        configs
    };
    for config in &configs {
        let store = open_store(config).await?;
        store.close().await;
        let tenant = config
            .tenant
            .as_ref()
            .map(|t| format!(" of tenant {}", t.name))
            .unwrap_or_default();
        println!(
            "tollgate: the {} database{tenant} is up to date",
            store.backend_name()
        );
    }
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
