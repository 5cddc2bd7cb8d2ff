//! voiceshot adapter (to be written).
use super::{Inbound, ParseContext, ParseError, Parsed};
use crate::model::Provider;

pub fn parse(_req: &Inbound<'_>, _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::unsupported(Provider::Generic, "not yet"))
}
