use super::t;
use crate::contacts::csv as contacts_csv;
use crate::contacts::*;
use crate::model::*;
use crate::phone::{self, DefaultRegion};
use crate::store::{ContactEdit, Delivery, Queries, Stored, Writer};

fn r(code: &str) -> DefaultRegion {
    DefaultRegion::parse(code).unwrap()
}

fn store() -> (tempfile::TempDir, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let s = Writer::open(&dir.path().join("ringside.db")).unwrap();
    (dir, s)
}

fn person(name: &str, company: Option<&str>, numbers: &[&str]) -> ContactInput {
    ContactInput {
        name: name.into(),
        company: company.map(str::to_string),
        numbers: numbers
            .iter()
            .map(|n| NumberInput {
                label: None,
                number: n.to_string(),
            })
            .collect(),
        record_url: None,
    }
}

fn names(m: &[ContactMatch]) -> Vec<&str> {
    m.iter().map(|m| m.name.as_str()).collect()
}

/// An inbound call from `from` (as the provider sent it, normalized with `region` like the
/// engine does), ringing now.
fn ring(s: &mut Writer, id: &str, from: &str, region: DefaultRegion, at: i64) -> Call {
    let mut ev = CallEvent::new(
        Provider::Generic,
        id,
        EventKind::Ringing {
            agent: Some("201".into()),
        },
    )
    .at(Some(t(at)))
    .facts(CallFacts {
        direction: Some(Direction::Inbound),
        from: Some(from.into()),
        to: Some("+14155550100".into()),
        ..CallFacts::default()
    });
    phone::normalize_event(&mut ev, region);
    let out = s
        .store_batch(&[Delivery {
            source: Provider::Generic,
            dedupe_key: format!("{id}:{at}"),
            received_at: t(at),
            content_type: None,
            raw: Vec::new(),
            events: vec![ev],
            notes: Vec::new(),
        }])
        .unwrap();
    match out.into_iter().next().unwrap().unwrap() {
        Stored::New { calls, .. } => calls.into_iter().next().unwrap(),
        other => panic!("not stored: {other:?}"),
    }
}

/// The matrix: a contact saved with a number written the way people write it in each
/// country is found by a call from that number as the provider sends it.
#[test]
fn number_format_matrix_us_gb_de_in() {
    // (region, the caller's E.164, how contacts and providers write it)
    let matrix: &[(&str, &str, &[&str])] = &[
        (
            "US",
            "+14155550123",
            &[
                "(415) 555-0123",
                "415-555-0123",
                "415.555.0123",
                "415/555-0123",
                "4155550123",
                "1 415 555 0123",
                "1-415-555-0123",
                "+1 (415) 555-0123",
                "+1 415 555 0123",
                "001 415 555 0123",
                "011 1 415 555 0123",
                "415-555-0123 x45",
                "(415) 555-0123 ext. 45",
            ],
        ),
        (
            "GB",
            "+442079460018",
            &[
                "020 7946 0018",
                "(020) 7946 0018",
                "020-7946-0018",
                "020/7946/0018",
                "02079460018",
                "+44 20 7946 0018",
                "+44 (0)20 7946 0018",
                "0044 20 7946 0018",
                "44 20 7946 0018",
                "020 7946 0018 ext 12",
            ],
        ),
        (
            "GB",
            "+447400123456",
            &[
                "07400 123456",
                "07400-123-456",
                "+44 7400 123456",
                "0044 7400 123 456",
            ],
        ),
        (
            "DE",
            "+4930901820",
            &[
                "030 901820",
                "030/901820",
                "030-90 18 20",
                "(030) 901820",
                "+49 30 901820",
                "+49 (0)30 901820",
                "0049 30 901820",
                "0049/30/901820",
            ],
        ),
        (
            "DE",
            "+4915123456789",
            &[
                "0151 23456789",
                "0151/234 567 89",
                "+49 151 23456789",
                "0049 1512 3456789",
            ],
        ),
        (
            "IN",
            "+917874762218",
            &[
                "07874762218",
                "078747 62218",
                "7874762218",
                "+91 78747 62218",
                "+91-7874762218",
                "0091 7874762218",
                "91 7874762218",
            ],
        ),
        (
            "IN",
            "+911123456789",
            &[
                "011 2345 6789",
                "011-23456789",
                "(011) 2345-6789",
                "+91 11 2345 6789",
            ],
        ),
    ];
    for (region, e164, forms) in matrix {
        let region = r(region);
        for form in *forms {
            // The provider sends it this way: the engine's normalization gives E.164 ...
            let n = phone::normalize(form, region);
            let as_stored = number_keys(form, region).unwrap();
            // ... and a contact saved this way is found by that call.
            let (_dir, mut s) = store();
            s.create_contact(person("Pat", None, &[form]), region, t(0))
                .unwrap();
            let found = s.lookup(e164).unwrap();
            assert_eq!(
                names(&found),
                ["Pat"],
                "{form} ({region:?}) stored as {as_stored:?}, caller {e164}"
            );
            if !form.contains('x') && !form.contains("ext") {
                assert_eq!(&n, e164, "{form} in {region:?} normalizes to {e164}");
            }
        }
    }
}

#[test]
fn withheld_numbers_match_nothing_and_read_as_withheld() {
    let (_dir, mut s) = store();
    s.create_contact(person("Zero", None, &["0"]), r("US"), t(0))
        .unwrap();
    for w in [
        "anonymous",
        "Anonymous",
        "private",
        "WITHHELD",
        "restricted",
        "unknown",
        "",
        "sip:anonymous@anonymous.invalid",
    ] {
        assert!(number_keys(w, r("US")).is_none(), "{w}");
        assert!(s.lookup(w).unwrap().is_empty(), "{w}");
        assert_eq!(phone::display(w, r("US")), "Withheld number", "{w}");
    }
    assert_eq!(phone::display("+442079460018", r("US")), "+44 20 7946 0018");
    assert_eq!(phone::display("201", r("US")), "201");
}

#[test]
fn odd_formats_match_by_their_last_digits_and_extensions_exactly() {
    let (_dir, mut s) = store();
    let us = r("US");
    // Does not parse (letters), so only its tail can find it.
    s.create_contact(
        person(
            "Switchboard",
            Some("Acme"),
            &["+44 (0) 20 7946 0018 (switchboard)"],
        ),
        us,
        t(0),
    )
    .unwrap();
    s.create_contact(person("Reception", None, &["201"]), us, t(0))
        .unwrap();
    assert_eq!(names(&s.lookup("+442079460018").unwrap()), ["Switchboard"]);
    assert_eq!(names(&s.lookup("201").unwrap()), ["Reception"]);
    assert!(
        s.lookup("1201").unwrap().is_empty(),
        "an extension matches exactly"
    );
    assert!(s.lookup("+442079460019").unwrap().is_empty());

    // The tail length is a setting.
    s.set_lookup(LookupSettings {
        tail_digits: 4,
        ..LookupSettings::default()
    });
    assert_eq!(names(&s.lookup("+15550018").unwrap()), ["Switchboard"]);
}

#[test]
fn exact_matches_win_over_tail_matches_and_many_matches_are_all_returned() {
    let (_dir, mut s) = store();
    let us = r("US");
    s.create_contact(person("Exact One", None, &["+1 415 555 0123"]), us, t(0))
        .unwrap();
    s.create_contact(
        person("Exact Two", Some("Beta"), &["(415) 555-0123"]),
        us,
        t(0),
    )
    .unwrap();
    // Same last nine digits, other country code, written oddly: a tail match only.
    s.create_contact(person("Tail", None, &["+7 415 555 0123 (old)"]), us, t(0))
        .unwrap();
    assert_eq!(
        names(&s.lookup("+14155550123").unwrap()),
        ["Exact One", "Exact Two"]
    );
    // A number nobody has exactly falls back to the tail.
    let found = s.lookup("+74155550123").unwrap();
    assert_eq!(names(&found), ["Exact One", "Exact Two", "Tail"]);
    assert!(s.lookup("+14155559999").unwrap().is_empty());
}

#[test]
fn sources_sort_by_the_configured_order() {
    let (_dir, mut s) = store();
    let us = r("US");
    s.upsert_contacts(
        "carddav:work",
        vec![SourcedContact {
            external_id: "/a.vcf".into(),
            etag: Some("1".into()),
            input: person("Aaron Synced", None, &["+14155550123"]),
        }],
        us,
        t(0),
    )
    .unwrap();
    s.create_contact(person("Zed Local", None, &["+14155550123"]), us, t(0))
        .unwrap();
    assert_eq!(
        names(&s.lookup("+14155550123").unwrap()),
        ["Zed Local", "Aaron Synced"]
    );
    s.set_lookup(LookupSettings {
        tail_digits: 9,
        order: vec!["carddav".into(), "local".into()],
    });
    assert_eq!(
        names(&s.lookup("+14155550123").unwrap()),
        ["Aaron Synced", "Zed Local"]
    );
}

#[test]
fn a_ringing_call_carries_its_contacts_and_display_numbers_from_the_first_change() {
    let (_dir, mut s) = store();
    let gb = r("GB");
    s.create_contact(
        person("Alice Smith", Some("Acme Ltd"), &["020 7946 0018"]),
        gb,
        t(0),
    )
    .unwrap();
    let call = ring(&mut s, "c1", "020 7946 0018", gb, 1);
    assert_eq!(call.from.as_deref(), Some("+442079460018"));
    assert_eq!(call.from_display.as_deref(), Some("+44 20 7946 0018"));
    assert_eq!(call.to_display.as_deref(), Some("+1 415-555-0100"));
    assert_eq!(names(&call.contacts), ["Alice Smith"]);
    assert_eq!(call.contacts[0].company.as_deref(), Some("Acme Ltd"));
    assert_eq!(call.contacts[0].source, "local");

    let nobody = ring(&mut s, "c2", "anonymous", gb, 2);
    assert!(nobody.contacts.is_empty());
    assert_eq!(nobody.from_display.as_deref(), Some("Withheld number"));
}

#[test]
fn adding_editing_and_deleting_a_contact_updates_the_calls_it_concerns() {
    let (_dir, mut s) = store();
    let us = r("US");
    let open = ring(&mut s, "open", "+14155550123", us, 1);
    assert!(open.contacts.is_empty());
    // An old, ended call from the same number, and one from someone else.
    ring(&mut s, "old", "+14155550123", us, 2);
    ring(&mut s, "other", "+14155550999", us, 3);

    let (c, changed) = s
        .create_contact(person("Bob Jones", None, &["415 555 0123"]), us, t(10))
        .unwrap();
    let mut ids: Vec<&str> = changed.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["generic:old", "generic:open"]);
    assert!(changed.iter().all(|c| names(&c.contacts) == ["Bob Jones"]));

    let (edit, changed) = s
        .update_contact(
            c.id,
            person("Robert Jones", None, &["415 555 0123"]),
            us,
            t(11),
        )
        .unwrap();
    assert!(
        matches!(edit, ContactEdit::Updated(ref c) if c.name == "Robert Jones"),
        "{edit:?}"
    );
    assert_eq!(changed.len(), 2);
    assert!(changed
        .iter()
        .all(|c| names(&c.contacts) == ["Robert Jones"]));

    // Moving the contact to another number updates both numbers' calls.
    let (_, changed) = s
        .update_contact(
            c.id,
            person("Robert Jones", None, &["415 555 0999"]),
            us,
            t(12),
        )
        .unwrap();
    let mut ids: Vec<&str> = changed.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["generic:old", "generic:open", "generic:other"]);

    let (gone, changed) = s.delete_contact(c.id, t(13)).unwrap();
    assert_eq!(gone.map(|g| g.name).as_deref(), Some("Robert Jones"));
    assert_eq!(changed.len(), 1);
    assert!(changed[0].contacts.is_empty());
    assert_eq!(s.delete_contact(c.id, t(14)).unwrap(), (None, Vec::new()));
    assert_eq!(
        s.update_contact(c.id, person("Bob", None, &["+14155550123"]), us, t(15))
            .unwrap(),
        (ContactEdit::NotFound, Vec::new())
    );
}

#[test]
fn a_late_crm_answer_joins_the_stored_matches_and_survives_a_rebuild() {
    let (_dir, mut s) = store();
    let us = r("US");
    s.create_contact(person("Local Lou", None, &["+14155550123"]), us, t(0))
        .unwrap();
    ring(&mut s, "c1", "+14155550123", us, 1);
    let crm = ContactMatch {
        key: "crm:0".into(),
        name: "Lou from the CRM".into(),
        company: Some("Acme".into()),
        record_url: Some("https://crm.example.com/c/7".into()),
        source: "crm".into(),
    };
    let call = s
        .set_source_matches("generic:c1", "crm", vec![crm.clone()], t(2))
        .unwrap()
        .unwrap();
    assert_eq!(names(&call.contacts), ["Local Lou", "Lou from the CRM"]);
    assert!(
        s.set_source_matches("generic:c1", "crm", vec![crm], t(3))
            .unwrap()
            .is_none(),
        "the same answer again changes nothing"
    );
    s.rebuild().unwrap();
    let again = s.call("generic:c1").unwrap().unwrap().call;
    assert_eq!(names(&again.contacts), ["Local Lou", "Lou from the CRM"]);
}

#[test]
fn synced_contacts_cannot_be_edited_here_and_bad_input_is_refused() {
    let (_dir, mut s) = store();
    let us = r("US");
    s.upsert_contacts(
        "carddav:work",
        vec![SourcedContact {
            external_id: "/a.vcf".into(),
            etag: None,
            input: person("Synced", None, &["+14155550123"]),
        }],
        us,
        t(0),
    )
    .unwrap();
    let synced = s.contacts(None, 10).unwrap().remove(0);
    let refused = s
        .update_contact(
            synced.id,
            person("Changed", None, &["+14155550123"]),
            us,
            t(1),
        )
        .unwrap();
    assert_eq!(
        refused,
        (
            ContactEdit::ReadOnly {
                name: "Synced".into(),
                source: "carddav:work".into()
            },
            Vec::new()
        )
    );
    assert_eq!(s.contact(synced.id).unwrap(), Some(synced), "unchanged");
    for (input, why) in [
        (person("", None, &["+14155550123"]), "name or a company"),
        (person("No Number", None, &[]), "phone number"),
        (person("Letters", None, &["call me"]), "not a phone number"),
        (
            ContactInput {
                record_url: Some("javascript:alert(1)".into()),
                ..person("Bad Link", None, &["+14155550123"])
            },
            "http(s)",
        ),
    ] {
        let e = s.create_contact(input, us, t(2)).unwrap_err();
        assert!(e.to_string().contains(why), "{e} should say {why}");
    }
    assert_eq!(
        s.contacts(None, 10).unwrap().len(),
        1,
        "nothing refused was stored"
    );
}

#[test]
fn csv_import_recognises_common_headers_and_round_trips() {
    let (_dir, mut s) = store();
    let us = r("US");
    // Google Contacts' export shape, semicolons and all.
    let google = "\u{feff}First Name,Last Name,Organization Name,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value\n\
        Alice,Smith,Acme,Mobile,+1 415-555-0123 ::: (415) 555-0124,Work,+1 415 555 0199\n\
        Bob,,,,,Home,415.555.0177\n\
        ,,,,+1 415 555 0000,,\n\
        Carol,NoPhone,,,,,\n";
    let parsed = contacts_csv::parse(google.as_bytes(), &[]).unwrap();
    assert_eq!(parsed.contacts.len(), 2, "{:?}", parsed.skipped);
    assert_eq!(parsed.skipped.len(), 2, "{:?}", parsed.skipped);
    assert!(parsed.skipped[0].contains("row 4"), "{:?}", parsed.skipped);
    let alice = &parsed.contacts[0].input;
    assert_eq!(alice.name, "Alice Smith");
    assert_eq!(alice.company.as_deref(), Some("Acme"));
    assert_eq!(alice.numbers.len(), 3);
    assert_eq!(alice.numbers[0].label.as_deref(), Some("mobile"));
    assert_eq!(alice.numbers[2].label.as_deref(), Some("work"));

    let (report, _) = s
        .upsert_contacts(LOCAL, parsed.contacts.clone(), us, t(0))
        .unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (2, 0, 0));
    // The same file again: nothing new.
    let (report, _) = s.upsert_contacts(LOCAL, parsed.contacts, us, t(1)).unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (0, 0, 2));
    assert_eq!(names(&s.lookup("+14155550124").unwrap()), ["Alice Smith"]);

    // Export, then import the export into a fresh store: the same contacts.
    let before = s.contacts(None, 100).unwrap();
    let exported = contacts_csv::export(&before).unwrap();
    let (_dir2, mut s2) = store();
    let again = contacts_csv::parse(exported.as_bytes(), &[]).unwrap();
    assert!(again.skipped.is_empty(), "{:?}", again.skipped);
    s2.upsert_contacts(LOCAL, again.contacts, us, t(2)).unwrap();
    let after = s2.contacts(None, 100).unwrap();
    let strip = |cs: Vec<Contact>| {
        cs.into_iter()
            .map(|c| (c.name, c.company, c.numbers, c.record_url))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(before), strip(after));
}

#[test]
fn csv_import_takes_explicit_column_mappings_and_european_separators() {
    let text = "Kunde;Firma;Durchwahl;Handy\nJörg Müller;Beispiel GmbH;030 901820;0151 23456789\n";
    let e = contacts_csv::parse(text.as_bytes(), &[]).unwrap_err();
    assert!(e.to_string().contains("no name column"), "{e}");
    let mapping = contacts_csv::parse_mapping(&[
        "name=Kunde".into(),
        "company=Firma".into(),
        "phone=Durchwahl".into(),
        "phone=Handy".into(),
    ])
    .unwrap();
    let parsed = contacts_csv::parse(text.as_bytes(), &mapping).unwrap();
    let c = &parsed.contacts[0].input;
    assert_eq!(c.name, "Jörg Müller");
    assert_eq!(c.numbers.len(), 2);
    assert!(contacts_csv::parse_mapping(&["nickname=X".into()]).is_err());
    let e = contacts_csv::parse(
        text.as_bytes(),
        &contacts_csv::parse_mapping(&["name=Nope".into()]).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no column `Nope`"), "{e}");
}

#[test]
fn vcard_import_reads_2_1_3_0_and_4_0_and_round_trips() {
    let (_dir, mut s) = store();
    let us = r("US");
    let file = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:abc-1\r\nFN:Alice Smith\r\nN:Smith;Alice;;;\r\n\
        ORG:Acme\\, Inc.;Sales\r\nTEL;TYPE=WORK,VOICE:+1 415 555 0123\r\nTEL;TYPE=CELL:(415) 555-0124\r\n\
        TEL;TYPE=FAX:+1 415 555 0125\r\nURL:https://crm.example.com/c/1\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob\r\n  Jones\r\nTEL;VALUE=uri;TYPE=\"home,voice\":tel:+44-20-7946-0018\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:M=C3=BCller;J=C3=B6rg\r\n\
        TEL;CELL:0151 23456789\r\nORG;QUOTED-PRINTABLE:Gr=C3=BCn AG\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody Callable\r\nEMAIL:n@example.com\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nthis line is broken\r\nEND:VCARD\r\n";
    let parsed = vcard::parse(file);
    assert_eq!(parsed.contacts.len(), 3, "{:?}", parsed.skipped);
    assert_eq!(parsed.skipped.len(), 2, "{:?}", parsed.skipped);
    let alice = &parsed.contacts[0];
    assert_eq!(alice.external_id, "uid:abc-1");
    assert_eq!(alice.input.company.as_deref(), Some("Acme, Inc."));
    assert_eq!(alice.input.numbers.len(), 2, "the fax is not a phone");
    assert_eq!(alice.input.numbers[1].label.as_deref(), Some("mobile"));
    assert_eq!(
        alice.input.record_url.as_deref(),
        Some("https://crm.example.com/c/1")
    );
    assert_eq!(parsed.contacts[1].input.name, "Bob Jones", "folded line");
    assert_eq!(
        parsed.contacts[1].input.numbers[0].number,
        "+44-20-7946-0018"
    );
    assert_eq!(
        parsed.contacts[2].input.name, "Jörg Müller",
        "quoted-printable"
    );
    assert_eq!(
        parsed.contacts[2].input.company.as_deref(),
        Some("Grün AG"),
        "2.1 bare QP"
    );
    assert_eq!(
        parsed.contacts[2].input.numbers[0].label.as_deref(),
        Some("mobile")
    );

    s.upsert_contacts(LOCAL, parsed.contacts, us, t(0)).unwrap();
    assert_eq!(names(&s.lookup("+442079460018").unwrap()), ["Bob Jones"]);
    s.set_lookup(LookupSettings::default());
    assert_eq!(
        names(
            &s.lookup(&phone::normalize("0151 23456789", r("DE")))
                .unwrap()
        ),
        ["Jörg Müller"],
        "stored as a national DE number with region US: found by its tail"
    );

    let before = s.contacts(None, 100).unwrap();
    let exported = vcard::export(&before);
    let (_dir2, mut s2) = store();
    let again = vcard::parse(&exported);
    assert!(again.skipped.is_empty(), "{:?}", again.skipped);
    s2.upsert_contacts(LOCAL, again.contacts, us, t(1)).unwrap();
    let strip = |cs: Vec<Contact>| {
        cs.into_iter()
            .map(|c| (c.name, c.company, c.numbers, c.record_url))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(before), strip(s2.contacts(None, 100).unwrap()));
}

#[test]
fn importing_a_contact_entered_by_hand_updates_it_instead_of_adding_a_twin() {
    let (_dir, mut s) = store();
    let us = r("US");
    s.create_contact(
        person("alice smith", Some("ACME"), &["+14155550123"]),
        us,
        t(0),
    )
    .unwrap();
    let parsed = vcard::parse(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Alice Smith\r\nORG:Acme\r\nTEL:+14155550123\r\nTEL:+14155550999\r\nEND:VCARD\r\n",
    );
    let (report, _) = s.upsert_contacts(LOCAL, parsed.contacts, us, t(1)).unwrap();
    assert_eq!((report.added, report.updated), (0, 1));
    assert_eq!(s.contacts(None, 10).unwrap().len(), 1);
    assert_eq!(names(&s.lookup("+14155550999").unwrap()), ["Alice Smith"]);
}

#[test]
fn contacts_are_searchable_by_name_company_and_number() {
    let (_dir, mut s) = store();
    let us = r("US");
    s.create_contact(
        person("Alice Smith", Some("Acme"), &["+14155550123"]),
        us,
        t(0),
    )
    .unwrap();
    s.create_contact(
        person("Bob Jones", Some("Beta"), &["+442079460018"]),
        us,
        t(0),
    )
    .unwrap();
    let q = |q: &str| {
        s.contacts(Some(q), 10)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(q("smi"), ["Alice Smith"]);
    assert_eq!(q("BETA"), ["Bob Jones"]);
    assert_eq!(q("(415) 555-01"), ["Alice Smith"]);
    assert_eq!(q("7946"), ["Bob Jones"]);
    assert_eq!(q("%"), Vec::<String>::new());
    assert_eq!(s.contacts(None, 10).unwrap().len(), 2);
}

/// History search finds calls by their contact's name and company, and follows the contact
/// being renamed or deleted (through the trigram index and the short-text scan alike).
#[test]
fn history_search_finds_calls_by_contact_name_and_follows_changes() {
    let (_dir, mut s) = store();
    let us = r("US");
    let (contact, _) = s
        .create_contact(
            person("Zoë Ångström", Some("Initech"), &["(415) 555-0123"]),
            us,
            t(0),
        )
        .unwrap();
    ring(&mut s, "c1", "4155550123", us, 1);
    ring(&mut s, "c2", "4155550999", us, 2);
    let found = |s: &Writer, q: &str| -> Vec<String> {
        s.calls(&crate::store::CallQuery {
            q: Some(q.into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|c| c.provider_call_id)
        .collect()
    };
    assert_eq!(found(&s, "zoë"), ["c1"]);
    assert_eq!(found(&s, "ÅNGSTRÖM"), ["c1"]);
    assert_eq!(found(&s, "initech"), ["c1"]);
    assert_eq!(found(&s, "zo"), ["c1"], "shorter than a trigram");
    let id = contact.id;
    s.update_contact(
        id,
        person("Carol Díaz", None, &["(415) 555-0123"]),
        us,
        t(3),
    )
    .unwrap();
    assert!(found(&s, "zoë").is_empty(), "the old name is gone");
    assert_eq!(found(&s, "díaz"), ["c1"]);
    s.delete_contact(id, t(4)).unwrap();
    assert!(found(&s, "carol").is_empty());
    assert_eq!(found(&s, "0123"), ["c1"], "the number still finds it");
}
