//! Secrets are never stored in the configuration: a secret field holds a reference to an
//! environment variable, resolved at run time. A literal is accepted by the parser only so that
//! validation can point at it precisely and tell the user to move it out of git.
//!
//! A field is a secret by its type alone: [`super::schema::secret_pointers`] finds every
//! `Secret` in the generated schema.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::redact::REDACTED;

/// A secret value: `${env:NAME}` or `{ env: NAME }`.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A reference to the environment variable `NAME`.
    Env(String),
    /// A literal: always a validation error (its value is never displayed).
    Literal(String),
}

impl Secret {
    /// Parses the string form: `${env:NAME}` is a reference, anything else a literal.
    pub fn parse(s: &str) -> Secret {
        match s
            .trim()
            .strip_prefix("${env:")
            .and_then(|r| r.strip_suffix('}'))
        {
            Some(name) if is_env_name(name) => Secret::Env(name.to_owned()),
            _ => Secret::Literal(s.to_owned()),
        }
    }

    /// The environment variable this secret refers to.
    pub fn env_name(&self) -> Option<&str> {
        match self {
            Secret::Env(n) => Some(n),
            Secret::Literal(_) => None,
        }
    }

    /// How an error names this secret without its value: `$AFAS_TOKEN (source.token)`, or the
    /// key alone for a literal.
    pub fn hint(&self, key: &str) -> String {
        match self.env_name() {
            Some(var) => format!("${var} ({key})"),
            None => key.to_owned(),
        }
    }

    /// Resolves the secret with `lookup` (normally `std::env::var`). `key` names the
    /// configuration key that needs it, for the error message.
    pub fn resolve(
        &self,
        key: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<String, SecretError> {
        match self {
            Secret::Env(name) => match lookup(name) {
                Some(v) if !v.is_empty() => {
                    // From here on the value is scrubbed from every message (`crate::redact`).
                    crate::redact::register(&v);
                    Ok(v)
                }
                _ => Err(SecretError::MissingEnv {
                    var: name.clone(),
                    key: key.to_owned(),
                }),
            },
            Secret::Literal(_) => Err(SecretError::Literal {
                key: key.to_owned(),
            }),
        }
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A secret that cannot be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The referenced variable is not set.
    #[error("environment variable {var} is not set (needed by `{key}`)")]
    MissingEnv {
        /// The variable.
        var: String,
        /// The configuration key that refers to it.
        key: String,
    },
    /// The configuration holds a literal secret.
    #[error("`{key}` holds a literal secret; use a reference like ${{env:NAME}}")]
    Literal {
        /// The configuration key.
        key: String,
    },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(n) => write!(f, "${{env:{n}}}"),
            Secret::Literal(_) => f.write_str(REDACTED),
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Secret::Env(n) => s.serialize_str(&format!("${{env:{n}}}")),
            Secret::Literal(_) => s.serialize_str(REDACTED),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Str(String),
            Obj { env: String },
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Str(s) => Secret::parse(&s),
            Repr::Obj { env } => Secret::Env(env),
        })
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A secret, never written in the file: a reference to an environment variable, `${env:NAME}` or `{ env: NAME }`.",
            "anyOf": [
                { "type": "string", "pattern": "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$" },
                {
                    "type": "object",
                    "properties": { "env": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" } },
                    "required": ["env"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_env_reference_and_literal() {
        assert_eq!(
            Secret::parse("${env:AFAS_TOKEN}"),
            Secret::Env("AFAS_TOKEN".into())
        );
        assert_eq!(Secret::parse("hunter2"), Secret::Literal("hunter2".into()));
        assert_eq!(
            Secret::parse("${env:1BAD}"),
            Secret::Literal("${env:1BAD}".into())
        );
    }

    #[test]
    fn missing_variable_names_variable_and_key() {
        let err = Secret::Env("AFAS_TOKEN".into())
            .resolve("source.token", |_| None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable AFAS_TOKEN is not set (needed by `source.token`)"
        );
    }

    #[test]
    fn debug_and_serialize_never_show_a_literal() {
        let s = Secret::Literal("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
    }
}
