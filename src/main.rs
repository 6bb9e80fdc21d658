//! The `otp-login` binary: reads a `.env` file when there is one, then runs the command line.
use std::process::ExitCode;

use otp_login::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    otp_login::memory::return_large_blocks_to_the_system();
    let cli = Cli::from_args();
    // Variables already set win over the file, as with the migration CLI.
    if let Err(err) = dotenvy::dotenv() {
        if !err.not_found() {
            eprintln!("otp-login: could not read .env: {err}");
            return ExitCode::FAILURE;
        }
    }
    cli.run().await
}
