use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tollgate::secret::release_large_blocks_to_the_os();
    tollgate::telemetry::init();
    tollgate::cli::run(tollgate::cli::Cli::parse()).await
}
