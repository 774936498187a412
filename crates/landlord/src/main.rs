use std::process::ExitCode;

use clap::Parser;
use landlord::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match landlord_core::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("landlord: {error}");
            return ExitCode::from(2);
        }
    };
    landlord_core::telemetry::init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("landlord: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => landlord::startup::serve(config).await,
            Command::Migrate => landlord::startup::migrate(config).await,
            Command::MakeAdmin { email } => landlord::startup::make_admin(config, &email).await,
            Command::ClosePeriod { month } => landlord::startup::close_period(config, &month).await,
            Command::SetPlan { organization, plan } => {
                landlord::startup::set_plan(config, &organization, &plan).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "landlord stopped with an error"
            );
            eprintln!("landlord: {error:#}");
            ExitCode::FAILURE
        }
    }
}
