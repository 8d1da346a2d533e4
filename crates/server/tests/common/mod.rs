//! Helpers shared by the HTTP API tests: a real server on a loopback port and the Rust SDK.

use cloudphone_sdk::{Client, ClientError};
use cloudphone_server::{Config, Server};

/// Starts a server on a free loopback port with its data in `dir`.
pub async fn start(dir: &std::path::Path) -> (Server, Client) {
    let server = cloudphone_server::start(Config { data_dir: dir.to_owned(), listen: "127.0.0.1:0".parse().unwrap() })
        .await
        .expect("server starts");
    let c = &server.credentials;
    let client = Client::new(&c.api_url, &c.access_key, &c.secret_key);
    (server, client)
}

/// The catalogue code of an API error; panics on success or another kind of error.
pub fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> String {
    match result {
        Err(ClientError::Api { code, .. }) => code,
        other => panic!("expected an API error, got {other:?}"),
    }
}
