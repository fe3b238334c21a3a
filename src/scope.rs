//! Scope: exclusions, test locations, partial sync, employment window. (Being written.)
