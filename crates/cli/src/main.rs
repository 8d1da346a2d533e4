//! `cloudphone`: runs the platform (`cloudphone up`) and is the command-line client of its API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cloudphone_sdk::Client;
use cloudphone_sdk::api::CreateSession;

#[derive(Parser)]
#[command(name = "cloudphone", version, about = "Self-hosted cloud phones: run the platform and drive it")]
struct Cli {
    /// Data directory of `up`; the CLI reads credentials.json from it.
    #[arg(long, global = true, env = "CLOUDPHONE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs everything in one process: API, device host, streaming, web pages (SQLite).
    Up {
        /// Address the API and pages listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Manages cloud phones.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Prints a URL that shows the phone's live screen in a browser.
    View {
        /// Instance id.
        id: String,
    },
}

#[derive(Subcommand)]
enum InstanceCommand {
    /// Creates phones and prints their ids, one per line.
    Create {
        /// How many.
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Lists phones.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Shows one phone.
    Get {
        /// Instance id.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Runs a shell command on a phone; exits with the command's exit code.
    Shell {
        /// Instance id.
        id: String,
        /// The command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Saves the phone's screen as PNG.
    Screenshot {
        /// Instance id.
        id: String,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Deletes a phone and everything it stored.
    Delete {
        /// Instance id.
        id: String,
    },
}

/// `$XDG_DATA_HOME/cloudphone`, else `~/.local/share/cloudphone`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("cloudphone");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/cloudphone")
}

/// The API client from `CLOUDPHONE_URL/ACCESS_KEY/SECRET_KEY`, completed from credentials.json.
fn client(data_dir: &std::path::Path) -> anyhow::Result<Client> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (url, ak, sk) = (env("CLOUDPHONE_URL"), env("CLOUDPHONE_ACCESS_KEY"), env("CLOUDPHONE_SECRET_KEY"));
    if let (Some(url), Some(ak), Some(sk)) = (&url, &ak, &sk) {
        return Ok(Client::new(url, ak, sk));
    }
    let path = data_dir.join(cloudphone_server::credentials::FILE_NAME);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no credentials: set CLOUDPHONE_URL, CLOUDPHONE_ACCESS_KEY and CLOUDPHONE_SECRET_KEY, \
             or run `cloudphone up` so {} exists",
            path.display()
        )
    })?;
    let file: cloudphone_server::Credentials =
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid credentials file", path.display()))?;
    Ok(Client::new(url.unwrap_or(file.api_url), ak.unwrap_or(file.access_key), sk.unwrap_or(file.secret_key)))
}

/// Prints a line for the operator. A server keeps running when nobody reads its stdout any
/// more (a closed pipe), so write errors are ignored rather than fatal as with `println!`.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

async fn up(data_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,str0m=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = cloudphone_server::start(cloudphone_server::Config { data_dir, listen }).await?;
    let url = &server.credentials.api_url;
    say(&format!(
        "cloudphone is running\n  console:     {url}/\n  API:         {url}/v1\n  credentials: {}",
        server.credentials_path.display()
    ));
    tokio::select! {
        result = server.wait() => result,
        _ = tokio::signal::ctrl_c() => {
            say("stopping");
            Ok(())
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    match cli.command {
        Command::Up { listen } => up(data_dir, listen).await.map(|_| ExitCode::SUCCESS),
        Command::View { id } => {
            let grant = client(&data_dir)?.create_session(&id, &CreateSession::default()).await?;
            println!("{}", grant.view_url);
            Ok(ExitCode::SUCCESS)
        }
        Command::Instance(command) => {
            let client = client(&data_dir)?;
            match command {
                InstanceCommand::Create { count } => {
                    for instance in client.create_instances(count).await? {
                        println!("{}", instance.id);
                    }
                }
                InstanceCommand::List { json } => {
                    let instances = client.list_instances().await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&instances)?);
                    } else {
                        println!("{:<20} {:<10} CREATED", "ID", "STATUS");
                        for i in instances {
                            println!("{:<20} {:<10} {}", i.id, i.status.as_str(), i.created_at);
                        }
                    }
                }
                InstanceCommand::Get { id, json } => {
                    let i = client.instance(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&i)?);
                    } else {
                        println!(
                            "id:         {}\nstatus:     {} ({})\ncreated at: {}",
                            i.id,
                            i.status.as_str(),
                            i.pad_status,
                            i.created_at
                        );
                    }
                }
                InstanceCommand::Shell { id, command } => {
                    let out = client.shell(&id, &command.join(" ")).await?;
                    print!("{}", out.stdout);
                    eprint!("{}", out.stderr);
                    return Ok(ExitCode::from(out.exit_code.clamp(0, 255) as u8));
                }
                InstanceCommand::Screenshot { id, output } => {
                    let png = client.screenshot(&id).await?;
                    std::fs::write(&output, png).with_context(|| format!("cannot write {}", output.display()))?;
                }
                InstanceCommand::Delete { id } => client.delete_instance(&id).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
