//! The WebDAV XML a CardDAV sync sends and reads: request bodies, and `multistatus` answers
//! (PROPFIND, `sync-collection`, `addressbook-multiget`) read by namespace and local name,
//! whatever prefixes the server picks (`d:`, `D:`, a default namespace, `card:`, `CR:` ...).
//! Pure: bytes in, values out.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

const DAV: &[u8] = b"DAV:";
const CARDDAV: &[u8] = b"urn:ietf:params:xml:ns:carddav";
/// Deeper answers are refused (multistatus needs 6 levels; a tree this deep is no answer).
const MAX_DEPTH: usize = 64;

/// PROPFIND Depth 1 on the address book: every member's ETag and type, and the book's own
/// sync token (present when the server supports `sync-collection`).
pub const PROPFIND_MEMBERS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:resourcetype/><d:getetag/><d:sync-token/></d:prop>
</d:propfind>"#;

/// RFC 6578 `sync-collection` from `token`: what changed and what went since.
pub fn sync_collection(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:">
  <d:sync-token>{}</d:sync-token>
  <d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop>
</d:sync-collection>"#,
        escape(token)
    )
}

/// RFC 6352 `addressbook-multiget`: these cards and their ETags in one request.
pub fn multiget(hrefs: &[&str]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><card:address-data/></d:prop>
"#,
    );
    for h in hrefs {
        body.push_str("  <d:href>");
        body.push_str(&escape(h));
        body.push_str("</d:href>\n");
    }
    body.push_str("</card:addressbook-multiget>");
    body
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Dav,
    CardDav,
    Other,
}

/// An element: its namespace, local name, child elements and text.
#[derive(Debug)]
struct Element {
    ns: Ns,
    name: String,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn all<'a>(&'a self, ns: Ns, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    fn dav(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(Ns::Dav, name))
    }

    fn text(&self) -> &str {
        self.text.trim()
    }

    /// Whether `ns:name` is anywhere below.
    fn contains(&self, ns: Ns, name: &str) -> bool {
        self.children
            .iter()
            .any(|c| c.is(ns, name) || c.contains(ns, name))
    }
}

fn parse(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_string())?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let open = |ns: ResolveResult, local: &[u8]| Element {
        ns: match ns {
            ResolveResult::Bound(n) if n.as_ref() == DAV => Ns::Dav,
            ResolveResult::Bound(n) if n.as_ref() == CARDDAV => Ns::CardDav,
            _ => Ns::Other,
        },
        name: String::from_utf8_lossy(local).into_owned(),
        children: Vec::new(),
        text: String::new(),
    };
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("the answer is not XML: {e}"))?;
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("the answer nests too deep".into());
                }
                stack.push(open(ns, e.local_name().as_ref()));
            }
            Event::Empty(e) => {
                let el = open(ns, e.local_name().as_ref());
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("an unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let t = t
                        .unescape()
                        .map_err(|e| format!("the answer is not XML: {e}"))?;
                    top.text.push_str(&t);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => return Err("the answer ends early".into()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// One resource a `multistatus` names, with what its successful `propstat`s say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// As the server wrote it (a path or a URL, percent-encoded).
    pub href: String,
    /// The response-level status (`404` for a member that is gone, `507` for a truncated
    /// sync); `None` when the response carries `propstat`s instead.
    pub status: Option<u16>,
    pub etag: Option<String>,
    pub collection: bool,
    pub addressbook: bool,
    pub sync_token: Option<String>,
    /// The vCard (`addressbook-multiget`).
    pub address_data: Option<String>,
}

/// A `multistatus` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    pub resources: Vec<Resource>,
    /// The new token of a `sync-collection` answer.
    pub sync_token: Option<String>,
}

pub fn multistatus(body: &[u8]) -> Result<Multistatus, String> {
    let root = parse(body)?;
    if !root.is(Ns::Dav, "multistatus") {
        return Err(format!("expected a DAV multistatus, got <{}>", root.name));
    }
    let mut out = Multistatus {
        resources: Vec::new(),
        sync_token: root
            .dav("sync-token")
            .map(|t| t.text().to_string())
            .filter(|t| !t.is_empty()),
    };
    for response in root.all(Ns::Dav, "response") {
        let status = response.dav("status").and_then(|s| status_code(s.text()));
        let mut r = Resource {
            status,
            ..Resource::default()
        };
        for propstat in response.all(Ns::Dav, "propstat") {
            let ok = propstat
                .dav("status")
                .and_then(|s| status_code(s.text()))
                .is_some_and(|c| (200..300).contains(&c));
            let Some(prop) = propstat.dav("prop").filter(|_| ok) else {
                continue;
            };
            for p in &prop.children {
                match (p.ns, p.name.as_str()) {
                    (Ns::Dav, "getetag") if !p.text().is_empty() => {
                        r.etag = Some(p.text().to_string())
                    }
                    (Ns::Dav, "resourcetype") => {
                        r.collection = p.dav("collection").is_some();
                        r.addressbook = p.all(Ns::CardDav, "addressbook").next().is_some();
                    }
                    (Ns::Dav, "sync-token") if !p.text().is_empty() => {
                        r.sync_token = Some(p.text().to_string())
                    }
                    (Ns::CardDav, "address-data") => r.address_data = Some(p.text.clone()),
                    _ => {}
                }
            }
        }
        // A response names one resource, or (with a response-level status) several.
        for href in response.all(Ns::Dav, "href") {
            let href = href.text();
            if !href.is_empty() {
                out.resources.push(Resource {
                    href: href.to_string(),
                    ..r.clone()
                });
            }
        }
    }
    Ok(out)
}

/// Whether an error answer (`<d:error>`) names the DAV precondition `name`, e.g.
/// `valid-sync-token`.
pub fn names_precondition(body: &[u8], name: &str) -> bool {
    parse(body).is_ok_and(|root| root.is(Ns::Dav, name) || root.contains(Ns::Dav, name))
}

/// `HTTP/1.1 404 Not Found` -> 404.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_propfind_answer_is_read_whatever_the_prefixes() {
        // Radicale: DAV: as the default namespace, CardDAV as CR:.
        let radicale = br#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><response><href>/alice/book/</href><propstat><prop><getetag>"2630"</getetag><resourcetype><CR:addressbook /><collection /></resourcetype><sync-token>http://radicale.org/ns/sync/747a</sync-token></prop><status>HTTP/1.1 200 OK</status></propstat></response><response><href>/alice/book/a.vcf</href><propstat><prop><getetag>"9eea"</getetag><resourcetype /></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><sync-token /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;
        // Nextcloud (sabre/dav): d: and card: prefixes, a namespace for itself.
        let nextcloud = br#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:oc="http://owncloud.org/ns">
 <d:response><d:href>/remote.php/dav/addressbooks/users/me/contacts/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:sync-token>http://sabre.io/ns/sync/42</d:sync-token></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:getetag/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/addressbooks/users/me/contacts/J%C3%B6rg.vcf</d:href>
  <d:propstat><d:prop><d:resourcetype/><d:getetag>&quot;5f1e&quot;</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:sync-token/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
</d:multistatus>"#;
        for (body, book, card, token, etag) in [
            (
                &radicale[..],
                "/alice/book/",
                "/alice/book/a.vcf",
                "http://radicale.org/ns/sync/747a",
                "\"9eea\"",
            ),
            (
                &nextcloud[..],
                "/remote.php/dav/addressbooks/users/me/contacts/",
                "/remote.php/dav/addressbooks/users/me/contacts/J%C3%B6rg.vcf",
                "http://sabre.io/ns/sync/42",
                "\"5f1e\"",
            ),
        ] {
            let m = multistatus(body).unwrap();
            assert_eq!(m.resources.len(), 2);
            let (b, c) = (&m.resources[0], &m.resources[1]);
            assert_eq!(b.href, book);
            assert!(b.collection && b.addressbook);
            assert_eq!(b.sync_token.as_deref(), Some(token));
            assert_eq!(c.href, card);
            assert!(!c.collection && !c.addressbook);
            assert_eq!(c.etag.as_deref(), Some(etag));
            assert_eq!(c.sync_token, None, "a 404 propstat is not a value");
        }
    }

    #[test]
    fn a_sync_collection_answer_has_changes_removals_and_the_new_token() {
        // iCloud style: a prefix on every DAV: element, a truncation marker for the book.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<D:multistatus xmlns:D="DAV:">
  <D:response><D:href>/book/gone.vcf</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
  <D:response><D:href>/book/new.vcf</D:href><D:propstat><D:prop><D:getetag>W/"7"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
  <D:response><D:href>/book/</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>
  <D:sync-token>data:,42</D:sync-token>
</D:multistatus>"#;
        let m = multistatus(body).unwrap();
        assert_eq!(m.sync_token.as_deref(), Some("data:,42"));
        let r = &m.resources;
        assert_eq!(
            (r[0].href.as_str(), r[0].status),
            ("/book/gone.vcf", Some(404))
        );
        assert_eq!((r[1].etag.as_deref(), r[1].status), (Some("W/\"7\""), None));
        assert_eq!(r[2].status, Some(507));
    }

    #[test]
    fn a_multiget_answer_carries_the_cards_text_and_cdata_alike() {
        let body = br#"<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
<d:response><d:href>/b/1.vcf</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag><c:address-data>BEGIN:VCARD
FN:Tom &amp; Jerry
END:VCARD
</c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/b/2.vcf</d:href><d:propstat><d:prop><d:getetag>"2"</d:getetag><c:address-data><![CDATA[BEGIN:VCARD
FN:A <b>
END:VCARD]]></c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/b/3.vcf</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
</d:multistatus>"#;
        let m = multistatus(body).unwrap();
        assert!(m.resources[0]
            .address_data
            .as_deref()
            .unwrap()
            .contains("FN:Tom & Jerry"));
        assert!(m.resources[1]
            .address_data
            .as_deref()
            .unwrap()
            .contains("FN:A <b>"));
        assert_eq!(m.resources[2].status, Some(404));
        assert_eq!(m.resources[2].address_data, None);
    }

    #[test]
    fn elements_in_other_namespaces_do_not_count() {
        let body = br#"<d:multistatus xmlns:d="DAV:" xmlns:x="urn:example"><d:response><d:href>/b/1.vcf</d:href><d:propstat><d:prop><x:getetag>"no"</x:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#;
        assert_eq!(multistatus(body).unwrap().resources[0].etag, None);
        let not_dav = br#"<multistatus><response><href>/x</href></response></multistatus>"#;
        assert!(multistatus(not_dav).is_err());
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"<d:multistatus xmlns:d=\"DAV:\">",
            b"not xml at all <",
            b"<a></b>",
            &[0xff, 0xfe, 0x00][..],
            b"<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>&bogus;</d:href></d:response></d:multistatus>",
        ] {
            assert!(multistatus(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        assert!(multistatus(deep.as_bytes()).is_err());
    }

    #[test]
    fn the_invalid_token_precondition_is_recognized() {
        let radicale = br#"<?xml version='1.0' encoding='utf-8'?>
<error xmlns="DAV:"><valid-sync-token /></error>"#;
        let sabre = br#"<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:exception>Sabre\DAV\Exception\InvalidSyncToken</s:exception><s:message>Invalid or unknown sync token</s:message><d:valid-sync-token/></d:error>"#;
        assert!(names_precondition(radicale, "valid-sync-token"));
        assert!(names_precondition(sabre, "valid-sync-token"));
        assert!(!names_precondition(
            b"<error xmlns=\"DAV:\"><need-privileges/></error>",
            "valid-sync-token"
        ));
        assert!(!names_precondition(b"Forbidden", "valid-sync-token"));
    }

    #[test]
    fn request_bodies_escape_what_they_carry() {
        let body = sync_collection("http://x/sync?a=1&b=<2>");
        assert!(body.contains("<d:sync-token>http://x/sync?a=1&amp;b=&lt;2&gt;</d:sync-token>"));
        let body = multiget(&["/b/a&b.vcf", "/b/c.vcf"]);
        assert!(body.contains("<d:href>/b/a&amp;b.vcf</d:href>"));
        assert!(body.contains("<d:href>/b/c.vcf</d:href>"));
        // What we send reads back as the request it is.
        assert!(parse(body.as_bytes())
            .unwrap()
            .is(Ns::CardDav, "addressbook-multiget"));
    }
}
