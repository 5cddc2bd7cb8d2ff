//! Contacts from and to vCard (`.vcf`): versions 2.1, 3.0 and 4.0, as phones, Google,
//! Outlook, Nextcloud, iCloud and Radicale write them.
//!
//! The `ical` crate unfolds lines and splits properties and parameters; this module reads
//! what a screen-pop needs: FN (or N), ORG, TEL, URL and UID. Each card is read on its own,
//! so one broken card is reported and skipped without losing the rest.

use super::SourcedContact;
use super::{Contact, ContactInput, NumberInput};
use anyhow::{bail, Context, Result};

/// A card's contact and its UID, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub uid: Option<String>,
    pub input: ContactInput,
}

/// What a vCard file held.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub contacts: Vec<SourcedContact>,
    pub skipped: Vec<String>,
}

/// Read every card in `text`. A card without a name or a number is skipped and reported.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (n, card) in split_cards(text).into_iter().enumerate() {
        match parse_card(&card) {
            Ok(c) => {
                let label = c.input.name.clone();
                match c.input.clone().cleaned() {
                    Ok(_) => out.contacts.push(SourcedContact {
                        external_id: match &c.uid {
                            Some(uid) => format!("uid:{uid}"),
                            None => super::csv::name_key(&c.input),
                        },
                        etag: None,
                        input: c.input,
                    }),
                    Err(e) => out.skipped.push(format!("card {} ({label}): {e}", n + 1)),
                }
            }
            Err(e) => out.skipped.push(format!("card {}: {e:#}", n + 1)),
        }
    }
    out
}

/// The cards of a file, each from its BEGIN:VCARD to its END:VCARD line.
fn split_cards(text: &str) -> Vec<String> {
    let mut cards = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.trim_start_matches('\u{feff}').lines() {
        let upper = line.trim().to_ascii_uppercase();
        if upper == "BEGIN:VCARD" {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line.trim_end_matches('\r'));
            c.push_str("\r\n");
        }
        if upper == "END:VCARD" {
            cards.extend(cur.take());
        }
    }
    cards
}

/// Join quoted-printable soft line breaks (`=` at the end of a line), which vCard 2.1 uses
/// instead of folding.
fn join_qp_soft_breaks(card: &str) -> String {
    let mut out = String::with_capacity(card.len());
    let mut in_qp = false;
    for line in card.split("\r\n") {
        if !in_qp && line.to_ascii_uppercase().contains("QUOTED-PRINTABLE") {
            in_qp = true;
        }
        if in_qp && line.ends_with('=') {
            out.push_str(&line[..line.len() - 1]);
        } else {
            out.push_str(line);
            out.push_str("\r\n");
            in_qp = false;
        }
    }
    out
}

/// vCard 2.1 writes parameters bare (`TEL;CELL;VOICE:...`); later versions, and the parser,
/// want `TYPE=CELL`. Folded continuation lines carry no parameters and stay as they are.
fn name_bare_params(card: &str) -> String {
    let mut out = String::with_capacity(card.len() + 32);
    for line in card.split_inclusive("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.push_str(line);
            continue;
        }
        let Some(colon) = line.find(':') else {
            out.push_str(line);
            continue;
        };
        let (head, rest) = line.split_at(colon);
        if head.contains('"') {
            out.push_str(line);
            continue;
        }
        let mut parts = head.split(';');
        out.push_str(parts.next().unwrap_or(""));
        for p in parts {
            out.push(';');
            if !p.contains('=') && !p.is_empty() {
                out.push_str("TYPE=");
            }
            out.push_str(p);
        }
        out.push_str(rest);
    }
    out
}

/// Read one card (the text from BEGIN:VCARD to END:VCARD).
pub fn parse_card(card: &str) -> Result<Card> {
    let text = name_bare_params(&join_qp_soft_breaks(card));
    let mut parser = ical::VcardParser::new(text.as_bytes());
    let contact = parser
        .next()
        .context("no vCard found")?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut fn_name = None;
    let mut n_name = None;
    let mut company = None;
    let mut url = None;
    let mut uid = None;
    let mut numbers = Vec::new();
    for p in &contact.properties {
        let Some(raw) = p.value.as_deref() else {
            continue;
        };
        let params = p.params.as_deref().unwrap_or(&[]);
        let value = decode(raw, params);
        // Properties may carry a group prefix (`item1.TEL`).
        let name = p
            .name
            .rsplit('.')
            .next()
            .unwrap_or(&p.name)
            .to_ascii_uppercase();
        match name.as_str() {
            "FN" => fn_name = Some(unescape(&value)),
            "N" => {
                let parts = split_unescaped(&value, ';');
                // family; given; additional; prefix; suffix
                let get = |i: usize| parts.get(i).map(|s| s.trim()).unwrap_or("");
                let name = [get(3), get(1), get(2), get(0), get(4)]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                if !name.is_empty() {
                    n_name = Some(name);
                }
            }
            "ORG" => {
                let org = split_unescaped(&value, ';')
                    .into_iter()
                    .find(|s| !s.trim().is_empty());
                company = company.or(org);
            }
            "TEL" => {
                let types = types_of(params);
                if types.iter().any(|t| t == "fax") && !types.iter().any(|t| t == "voice") {
                    continue;
                }
                let number = unescape(&value);
                let number = number
                    .trim()
                    .strip_prefix("tel:")
                    .unwrap_or(number.trim())
                    .to_string();
                numbers.push(NumberInput {
                    label: label_of(&types),
                    number,
                });
            }
            "URL" => {
                let u = unescape(&value).trim().to_string();
                if url.is_none() && (u.starts_with("http://") || u.starts_with("https://")) {
                    url = Some(u);
                }
            }
            "UID" => uid = Some(unescape(&value).trim().to_string()).filter(|u| !u.is_empty()),
            _ => {}
        }
    }
    let name = fn_name
        .filter(|s| !s.trim().is_empty())
        .or(n_name)
        .unwrap_or_default();
    if name.is_empty() && company.is_none() && numbers.is_empty() {
        bail!("the card has no name, company or number");
    }
    Ok(Card {
        uid,
        input: ContactInput {
            name,
            company: company.map(|c| c.trim().to_string()),
            numbers,
            record_url: url,
        },
    })
}

/// The lower-case TYPE values (`TYPE=WORK,VOICE`, `TYPE=work;TYPE=cell`, or 2.1's bare
/// `TEL;CELL`).
fn types_of(params: &[(String, Vec<String>)]) -> Vec<String> {
    params
        .iter()
        .flat_map(|(k, vs)| {
            let k = k.to_ascii_lowercase();
            if k == "type" {
                vs.iter()
                    .flat_map(|v| v.split(','))
                    .map(|v| v.trim().trim_matches('"').to_ascii_lowercase())
                    .collect::<Vec<_>>()
            } else if vs.is_empty() {
                vec![k]
            } else {
                Vec::new()
            }
        })
        .collect()
}

fn label_of(types: &[String]) -> Option<String> {
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("cell") || has("mobile") || has("iphone") {
        Some("mobile".into())
    } else if has("work") {
        Some("work".into())
    } else if has("home") {
        Some("home".into())
    } else if has("main") || has("pref") {
        Some("main".into())
    } else {
        None
    }
}

/// Undo vCard 2.1's quoted-printable encoding where a property says it uses it.
fn decode(raw: &str, params: &[(String, Vec<String>)]) -> String {
    // `ENCODING=QUOTED-PRINTABLE`, or 2.1's bare `QUOTED-PRINTABLE` (read as a TYPE).
    let qp = params.iter().any(|(k, vs)| {
        (k.eq_ignore_ascii_case("encoding") || k.eq_ignore_ascii_case("type"))
            && vs
                .iter()
                .any(|v| v.eq_ignore_ascii_case("quoted-printable"))
    });
    if !qp {
        return raw.to_string();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        // Old phones wrote Latin-1.
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    }
}

/// `\,` `\;` `\\` `\n` as vCard escapes them.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push(' '),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Split on `sep` where it is not escaped, unescaping the parts.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            parts.push(unescape(&cur));
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    parts.push(unescape(&cur));
    parts
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(';', "\\;")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// Lines longer than 75 octets folded as RFC 6350 says, never inside a UTF-8 sequence.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// `contact` as one vCard 3.0 (what most address books read).
pub fn card(contact: &Contact, uid: &str) -> String {
    let mut out = String::new();
    let mut line = |l: String| fold(&l, &mut out);
    line("BEGIN:VCARD".into());
    line("VERSION:3.0".into());
    line(format!("UID:{}", escape(uid)));
    line(format!("FN:{}", escape(&contact.name)));
    let (family, given) = name_parts(&contact.name);
    line(format!("N:{};{};;;", escape(family), escape(given)));
    if let Some(c) = &contact.company {
        line(format!("ORG:{}", escape(c)));
    }
    for n in &contact.numbers {
        let ty = match n.label.as_deref() {
            Some("mobile") => ";TYPE=CELL",
            Some("work") => ";TYPE=WORK",
            Some("home") => ";TYPE=HOME",
            Some("main") => ";TYPE=PREF",
            _ => "",
        };
        line(format!("TEL{ty}:{}", escape(&n.number)));
    }
    if let Some(u) = &contact.record_url {
        line(format!("URL:{}", escape(u)));
    }
    line("END:VCARD".into());
    out
}

/// A name as vCard's N wants it, family then given: "Berzins, Jonas" as written, else the last
/// word is the family name ("Jonas Berzins"); a single word is a family name.
fn name_parts(name: &str) -> (&str, &str) {
    let name = name.trim();
    if let Some((family, given)) = name.split_once(',') {
        return (family.trim(), given.trim());
    }
    match name.rsplit_once(char::is_whitespace) {
        Some((given, family)) => (family.trim(), given.trim()),
        None => (name, ""),
    }
}

/// Every contact as one `.vcf` file.
pub fn export(contacts: &[Contact]) -> String {
    contacts
        .iter()
        .map(|c| card(c, &format!("ringside-{}", c.id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::ContactNumber;

    #[test]
    fn the_name_is_split_into_family_and_given_names() {
        let c = |name: &str| Contact {
            id: 7,
            source: "local".into(),
            name: name.into(),
            company: None,
            numbers: vec![ContactNumber {
                label: Some("mobile".into()),
                number: "+37120000001".into(),
                e164: Some("+37120000001".into()),
                display: None,
            }],
            record_url: None,
            updated_at: chrono::Utc::now(),
        };
        for (name, n) in [
            ("Jonas Berzins", "N:Berzins;Jonas;;;"),
            ("Mary Ann Evans", "N:Evans;Mary Ann;;;"),
            ("Berzins, Jonas", "N:Berzins;Jonas;;;"),
            ("Acme", "N:Acme;;;;"),
        ] {
            let text = card(&c(name), "u1");
            assert!(text.contains(&format!("\r\n{n}\r\n")), "{name}: {text}");
            // And read back, the card is the same person.
            assert_eq!(parse_card(&text).unwrap().input.name, name);
        }
    }
}
