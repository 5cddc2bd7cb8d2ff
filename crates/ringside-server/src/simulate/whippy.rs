//! whippy scenarios
