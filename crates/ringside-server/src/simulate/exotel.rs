//! exotel scenarios
