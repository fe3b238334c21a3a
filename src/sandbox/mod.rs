//! sandbox (being written).
