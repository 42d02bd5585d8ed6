use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tollgate::telemetry::init();
    tollgate::cli::run(tollgate::cli::Cli::parse()).await
}
