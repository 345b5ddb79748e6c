//! Issue #6, item 2: near-duplicates of one campaign land in the same
//! group, hence on the same side of the split, whatever the seed; unrelated
//! messages do not join them.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use phishgate_core::{Config, Engine};
use phishgate_eval::{assign_groups, part_of, prepare};

const BODY: &str = "We detected unusual activity on your online banking profile. \
To keep your savings protected our security department has placed a temporary hold \
on outgoing transfers until you confirm the details we hold for you. Confirmation \
takes less than two minutes and must be completed within forty eight hours, after \
which the profile is closed and remaining funds are held for review by the compliance \
team in accordance with our terms. Please have your card and the one time code we \
send by text message ready before you begin.";

/// One copy of a campaign: another recipient, date, tracking id, greeting
/// name and (for some copies) another throw-away sending domain.
fn copy(i: usize) -> Vec<u8> {
    let names = ["Alice", "Bob", "Chen", "Dung", "Emma", "Farid"];
    let name = names.get(i % names.len()).copied().unwrap_or("X");
    let domain = if i.is_multiple_of(2) {
        "secure-bank.test"
    } else {
        "bank-alerts.test"
    };
    format!(
        "From: Security <alert@{domain}>\r\nTo: {lower}@victim{i}.test\r\n\
         Subject: Action required on case {i}{i}7{i}\r\nDate: Mon, {day} Mar 2024 10:00:00 +0000\r\n\
         Message-ID: <{i}abc{i}@{domain}>\r\nContent-Type: text/plain\r\n\r\n\
         Dear {name},\r\n\r\n{BODY}\r\n\r\nhttp://{domain}/c/{i}f{i}9a{i}e2?r={lower}%40victim{i}.test\r\n\r\nReference {i}{i}{i}-{i}8\r\n",
        lower = name.to_lowercase(),
        day = 10 + i,
    )
    .into_bytes()
}

fn unrelated(i: usize) -> Vec<u8> {
    let topics = [
        "the build farm is down again, who has the keys to the server room",
        "minutes of the budget meeting are attached, please check the totals for march",
        "the kernel patch fixes the scheduler regression reported last week on the list",
        "our family reunion will be held at the lake house in july bring food",
    ];
    let t = topics.get(i % topics.len()).copied().unwrap_or("");
    format!(
        "From: person{i}@example{i}.org\nTo: list@example.org\nSubject: note {i} about {t}\n\n{t}. {t}. and then some more words about {t} {i}\n"
    )
    .into_bytes()
}

#[test]
fn copies_of_a_campaign_share_a_group_and_a_side() {
    let engine = Engine::new(Config::defaults()).expect("engine");
    let mut raws: Vec<Vec<u8>> = (0..6).map(copy).collect();
    raws.extend((0..4).map(unrelated));
    let prepared: Vec<_> = raws.iter().map(|r| prepare(&engine, r)).collect();
    let features: Vec<_> = prepared.iter().map(|p| p.features.clone()).collect();
    let ids: Vec<u64> = prepared.iter().map(|p| p.id).collect();
    // Every copy is a different file.
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len());

    let groups = assign_groups(&features, &ids);
    let campaign = groups.first().copied().expect("groups");
    for (i, g) in groups.iter().enumerate().take(6) {
        assert_eq!(*g, campaign, "copy {i} left its campaign");
    }
    for (i, g) in groups.iter().enumerate().skip(6) {
        assert_ne!(*g, campaign, "unrelated message {i} joined the campaign");
    }
    // Unrelated messages stay apart from each other too.
    let mut others: Vec<u64> = groups.iter().skip(6).copied().collect();
    others.sort_unstable();
    others.dedup();
    assert_eq!(others.len(), 4);
    // Same group, same side, for any seed; the order of files is irrelevant.
    for seed in 0..50 {
        let side = part_of(campaign, seed);
        assert!(groups.iter().take(6).all(|g| part_of(*g, seed) == side));
    }
    let rev_f: Vec<_> = features.iter().rev().cloned().collect();
    let rev_i: Vec<_> = ids.iter().rev().copied().collect();
    let mut rev_groups = assign_groups(&rev_f, &rev_i);
    rev_groups.reverse();
    assert_eq!(rev_groups, groups);
}

#[test]
fn copies_with_another_subject_and_sender_still_group_by_body() {
    // Only the MinHash key can join these: the subject and sender differ.
    let engine = Engine::new(Config::defaults()).expect("engine");
    let a = format!("From: a@one.test\nSubject: Hello\n\nDear Ann,\n\n{BODY}\n");
    let b = format!(
        "From: b@two.test\nSubject: Urgent notice\n\nDear Bui Van Cuong,\n\n{BODY}\n\nid 88812\n"
    );
    let p: Vec<_> = [a, b]
        .iter()
        .map(|r| prepare(&engine, r.as_bytes()))
        .collect();
    let groups = assign_groups(
        &p.iter().map(|x| x.features.clone()).collect::<Vec<_>>(),
        &p.iter().map(|x| x.id).collect::<Vec<_>>(),
    );
    assert_eq!(groups.first(), groups.get(1));
}
