//! Helpers shared by the HTTP API tests: a real server on a loopback port and the Rust SDK.

use cloudphone_sdk::{Client, ClientError};
use cloudphone_server::{Config, Server};

/// The database the API tests run on: `CLOUDPHONE_TEST_BACKEND=postgres` runs them on a fresh
/// database of the PostgreSQL server in `CLOUDPHONE_TEST_POSTGRES_URL` (one per data directory,
/// so a restart in a test finds its data again); anything else on SQLite.
async fn database(dir: &std::path::Path) -> Option<String> {
    if std::env::var("CLOUDPHONE_TEST_BACKEND").as_deref() != Ok("postgres") {
        return None;
    }
    let marker = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return Some(url);
    }
    let server = std::env::var(cloudphone_store::TEST_POSTGRES_ENV)
        .expect("CLOUDPHONE_TEST_BACKEND=postgres needs CLOUDPHONE_TEST_POSTGRES_URL");
    let url = cloudphone_store::create_scratch_postgres(&server).await.expect("a scratch database");
    std::fs::write(&marker, &url).unwrap();
    Some(url)
}

/// Starts a server on a free loopback port with its data in `dir`.
pub async fn start(dir: &std::path::Path) -> (Server, Client) {
    start_with(dir, |config| config).await
}

/// Starts a server with a configuration of the test's choosing.
pub async fn start_with(dir: &std::path::Path, configure: impl FnOnce(Config) -> Config) -> (Server, Client) {
    let database = database(dir).await;
    let config = configure(Config { database, ..Config::new(dir.to_owned(), "127.0.0.1:0".parse().unwrap()) });
    let server = cloudphone_server::start(config).await.expect("server starts");
    let c = &server.credentials;
    let client = Client::new(&c.api_url, &c.access_key, &c.secret_key);
    (server, client)
}

/// The catalogue code of an API error; panics on success or another kind of error.
#[allow(dead_code)] // each test file compiles this module; not every one needs every helper
pub fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> String {
    match result {
        Err(ClientError::Api { code, .. }) => code,
        other => panic!("expected an API error, got {other:?}"),
    }
}
