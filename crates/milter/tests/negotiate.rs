//! Option negotiation rules (reference §3).

// Test helpers outside `#[test]` fns are not covered by clippy.toml's
// allow-*-in-tests; here too a panic is the test failing.
#![allow(clippy::panic)]

use phishgate_milter::consts::*;
use phishgate_milter::{encode_response, negotiate, NegotiateError, Response, Wanted};

fn optneg(r: &Response) -> (u32, u32, u32, &[(u32, String)]) {
    match r {
        Response::OptNeg {
            version,
            actions,
            protocol,
            macro_lists,
        } => (*version, *actions, *protocol, macro_lists),
        other => panic!("not an O reply: {other:?}"),
    }
}

#[test]
fn postfix_v6_offer() {
    let (resp, n) = negotiate(6, 0x1ff, 0x1f_ffff, &Wanted::default()).unwrap();
    let (v, a, p, lists) = optneg(&resp);
    assert_eq!(v, 6);
    assert_eq!(
        a,
        SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_SETSYMLIST
    );
    assert_eq!(p, SMFIP_NR_ALL | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC);
    assert_eq!(
        p & (SMFIP_NOHDRS | SMFIP_NOBODY | SMFIP_NOEOH),
        0,
        "we need the content"
    );
    assert_eq!(lists.len(), 4);
    assert_eq!(lists[0].0, SMFIM_CONNECT);
    assert!(lists[0].1.starts_with("{client_addr} "));
    assert_eq!((n.version, n.actions, n.protocol), (v, a, p));
    assert_eq!(n.offered, (6, 0x1ff, 0x1f_ffff));
    assert!(n.no_reply(SMFIC_HEADER) && n.no_reply(SMFIC_CONNECT) && n.no_reply(SMFIC_ABORT));
    assert!(!n.no_reply(SMFIC_BODYEOB) && !n.no_reply(SMFIC_OPTNEG));
    assert!(n.leading_space());
    assert!(n.can(SMFIF_CHGBODY) && !n.can(SMFIF_ADDRCPT));
}

#[test]
fn version_is_min_and_at_least_two() {
    for (offer, want) in [(2, 2), (3, 3), (4, 4), (6, 6), (7, 6), (0xffff_ffff, 6)] {
        let (r, n) = negotiate(offer, 0x1ff, 0x1f_ffff, &Wanted::default()).unwrap();
        assert_eq!(optneg(&r).0, want, "offer {offer}");
        assert_eq!(n.version, want);
    }
    assert_eq!(
        negotiate(1, 0x1ff, 0x1f_ffff, &Wanted::default()),
        Err(NegotiateError::VersionTooOld(1))
    );
    assert_eq!(
        negotiate(0, 0, 0, &Wanted::default()),
        Err(NegotiateError::VersionTooOld(0))
    );
}

#[test]
fn bits_are_a_subset_of_the_offer() {
    let greedy = Wanted {
        actions: u32::MAX,
        protocol: u32::MAX,
        macro_lists: vec![],
    };
    let mut rng = 0x1234_5678_9abc_def0u64;
    for _ in 0..2000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let (oa, op) = ((rng as u32) | 1, (rng >> 32) as u32 | 1);
        for wanted in [&greedy, &Wanted::default()] {
            let (r, _) = negotiate(6, oa, op, wanted).unwrap();
            let (_, a, p, _) = optneg(&r);
            assert_eq!(a & !oa, 0, "actions {a:#x} not within offer {oa:#x}");
            assert_eq!(p & !op, 0, "protocol {p:#x} not within offer {op:#x}");
            assert_eq!(a & !SMFI_CURR_ACTS, 0);
            assert_eq!(p & !SMFI_CURR_PROT, 0, "no undefined/MDS bits");
        }
    }
    // Postfix milter_protocol=2/3/4 offers: no NR bits offered, none answered.
    for (v, prot) in [(2, 0x7f), (3, 0x17f), (4, 0x37f)] {
        let (r, n) = negotiate(v, 0x1ff, prot, &Wanted::default()).unwrap();
        let (_, a, p, lists) = optneg(&r);
        assert_eq!(p & SMFIP_NR_ALL, 0);
        assert!(!n.no_reply(SMFIC_HEADER));
        assert_eq!(
            a & (SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST),
            0,
            "v6 actions in v{v}"
        );
        assert!(lists.is_empty(), "no macro lists below v6");
        assert_eq!(p & SMFIP_NOUNKNOWN, prot & SMFIP_NOUNKNOWN);
    }
}

#[test]
fn zero_offer_reads_as_v1_defaults() {
    let greedy = Wanted {
        actions: u32::MAX,
        protocol: u32::MAX,
        macro_lists: vec![],
    };
    let (r, _) = negotiate(2, 0, 0, &greedy).unwrap();
    let (_, a, p, _) = optneg(&r);
    assert_eq!((a, p), (SMFI_V1_ACTS, SMFI_V1_PROT));
}

#[test]
fn macro_lists_only_when_setsymlist_offered() {
    let (r, n) = negotiate(6, 0x0ff, 0x1f_ffff, &Wanted::default()).unwrap();
    let (_, a, _, lists) = optneg(&r);
    assert!(lists.is_empty());
    assert_eq!(a & SMFIF_SETSYMLIST, 0);
    assert!(!n.can(SMFIF_SETSYMLIST));

    // Empty lists are dropped (Postfix would fall back to main.cf), names
    // are normalised to single spaces.
    let wanted = Wanted {
        actions: 0,
        protocol: 0,
        macro_lists: vec![
            (SMFIM_CONNECT, "  {client_addr}   j ".into()),
            (SMFIM_EOH, "".into()),
        ],
    };
    let (r, _) = negotiate(6, 0x1ff, 0x1f_ffff, &wanted).unwrap();
    let (_, a, p, lists) = optneg(&r);
    assert_eq!(
        a, SMFIF_SETSYMLIST,
        "the action bit is set when lists are sent"
    );
    assert_eq!(p, 0);
    assert_eq!(lists, [(0, "{client_addr} j".to_owned())]);
    let mut out = Vec::new();
    encode_response(&r, &mut out);
    assert_eq!(
        out,
        [
            &[0, 0, 0, 33, b'O', 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            b"{client_addr} j\0"
        ]
        .concat()
    );
}

#[test]
fn bad_macro_lists_are_refused() {
    let w = |lists: Vec<(u32, &str)>| Wanted {
        macro_lists: lists.into_iter().map(|(s, l)| (s, l.to_owned())).collect(),
        ..Wanted::default()
    };
    assert_eq!(
        negotiate(6, 0x1ff, 0, &w(vec![(7, "i")])),
        Err(NegotiateError::BadStage(7))
    );
    assert_eq!(
        negotiate(6, 0x1ff, 0, &w(vec![(2, "i"), (2, "j")])),
        Err(NegotiateError::DuplicateStage(2))
    );
    assert_eq!(
        negotiate(6, 0x1ff, 0, &w(vec![(2, "i\0j")])),
        Err(NegotiateError::BadMacroList(2))
    );
    let many = vec!["m"; 51].join(" ");
    assert_eq!(
        negotiate(6, 0x1ff, 0, &w(vec![(0, &many)])),
        Err(NegotiateError::BadMacroList(0))
    );
}
