//! The full-screen console. (Being built: see issue 3.)

use crate::error::{Error, Result};
use crate::pipeline::OpenOptions;

pub fn run(_open: OpenOptions) -> Result<u8> {
    Err(Error::Unavailable(
        "the full-screen console is not in this build yet; use the subcommands (`opsdeck --help`)".into(),
    ))
}
