use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tollgate::allocator::release_large_blocks_to_the_os();
    tokio::spawn(tollgate::allocator::return_free_memory_periodically());
    tollgate::telemetry::init();
    tollgate::cli::run(tollgate::cli::Cli::parse()).await
}
