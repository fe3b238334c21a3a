//! Mapping: communities and functions. (Being written.)
