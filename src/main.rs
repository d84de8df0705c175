use cadence::{app::Application, config::Settings, telemetry};

fn main() {
    cadence::tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    runtime.block_on(serve());
}

async fn serve() {
    let _ = dotenvy::dotenv();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cadence: configuration error: {e:#}");
            std::process::exit(2);
        }
    };
    telemetry::init(settings.env, &settings.log);
    let env = settings.env;
    let public_url = settings.public_url();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "startup failed");
            eprintln!("cadence: startup failed: {e:#}");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %app.local_addr(), env = env.as_str(), "cadence listening");
    println!("Cadence is running at {public_url}  (API docs: {public_url}/docs)");
    if let Err(e) = app.run().await {
        tracing::error!(error = %format!("{e:#}"), "server error");
        std::process::exit(1);
    }
}
