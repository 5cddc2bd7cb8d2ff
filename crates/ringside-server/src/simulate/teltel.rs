//! teltel scenarios
