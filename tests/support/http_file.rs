//! Reading a `.http` fixture: a request line (`POST /hooks/x?query`), header lines, a blank
//! line, the body. Shared by the core's fixture test and the integration tests.

use std::path::Path;

pub struct HttpFile {
    pub method: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpFile {
    pub fn read(path: &Path) -> HttpFile {
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (head_end, sep) = text
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| (i, 2))
            .unwrap_or((text.len(), 0));
        let head = std::str::from_utf8(&text[..head_end]).expect("fixture head is UTF-8");
        let mut body = text[(head_end + sep).min(text.len())..].to_vec();
        while body.last() == Some(&b'\n') {
            body.pop();
        }
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, target) = request_line.split_once(' ').expect("METHOD TARGET");
        let query = target.split_once('?').map(|(_, q)| q.to_string());
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').expect("header: value");
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        // Multipart fixtures are written with LF line ends; the wire uses CRLF.
        let multipart = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("multipart/"));
        if multipart {
            let s = String::from_utf8(body).expect("multipart fixture is UTF-8");
            body = format!("{}\r\n", s.replace('\n', "\r\n")).into_bytes();
        }
        HttpFile {
            method: method.to_string(),
            query,
            headers,
            body,
        }
    }
}
