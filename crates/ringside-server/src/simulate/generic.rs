//! generic scenarios
