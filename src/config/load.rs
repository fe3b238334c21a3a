//! Loading a configuration directory. (Being written.)
use super::{Config, ErrorList};
/// Loading failed.
pub type LoadError = ErrorList;
/// Loads a directory.
pub fn load_dir(_dir: &std::path::Path) -> Result<Config, ErrorList> {
    todo_placeholder()
}
/// Loads files given as (name, bytes).
pub fn load_files(_files: Vec<(String, Vec<u8>)>) -> Result<Config, ErrorList> {
    todo_placeholder()
}
fn todo_placeholder() -> Result<Config, ErrorList> {
    Err(ErrorList::default())
}
