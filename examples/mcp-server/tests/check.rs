//! `tollgate check` (issue 13) against the example, in process: the example passes every
//! check of every profile, as an MCP server's own `cargo test` can assert with
//! `tollgate::testing::TestServer::check`.

use tokio::net::TcpListener;
use tollgate::testing::{CheckOptions, Profile, TestServer};
use tollgate_example_mcp_server::{Settings, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_passes_every_check_in_every_profile() {
    let tollgate = TestServer::builder().spawn().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(run(
        listener,
        Settings {
            public_url: url.clone(),
            issuer: tollgate.issuer().to_owned(),
            jwks_url: tollgate.jwks_url(),
            backend: None,
        },
    ));
    for profile in Profile::ALL {
        let options = CheckOptions {
            profile,
            ..CheckOptions::default()
        };
        let report = tollgate.check_with(&url, &options).await.unwrap();
        assert!(report.passed(), "{report}");
        assert_eq!(report.failed_ids(), Vec::<&str>::new(), "{report}");
    }
}
