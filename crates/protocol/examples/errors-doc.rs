//! Prints `docs/errors.md` from the error catalogue.
fn main() {
    print!("{}", cloudphone_protocol::error::catalogue_markdown());
}
