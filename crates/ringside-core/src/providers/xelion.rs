//! xelion CallEvent mapping (to be written).
use super::{ParseContext, ParseError};
use crate::model::{CallEvent, Provider};

pub fn parse_frame(_frame: &[u8], _ctx: &ParseContext) -> Result<Vec<CallEvent>, ParseError> {
    Err(ParseError::unsupported(Provider::Xelion, "not yet"))
}
