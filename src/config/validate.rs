//! Validation. (Being written.)
/// One configuration error.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}
/// All errors of one run.
#[derive(Debug, Clone, Default)]
pub struct ErrorList(pub Vec<ConfigError>);
