//! What one dial sends: the request [`super::Callback::plan`] makes for the phone system (each
//! provider's builder, such as Exotel's, fills one in), and the application layer sends.

/// One HTTP request to the phone system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Content type and bytes.
    pub body: Option<(&'static str, Vec<u8>)>,
}
