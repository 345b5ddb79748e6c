//! The loopback DNS server answers like an authoritative server would, and
//! misbehaves exactly as asked.

// Helpers below run on test threads only: a failure fails the test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use phishgate_testkit::{DnsServer, Fault, Zone};

fn query(name: &str, t: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.add_query(hickory_proto::op::Query::query(
        Name::from_ascii(name).unwrap(),
        t,
    ));
    m.to_vec().unwrap()
}

fn udp(server: &DnsServer, q: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    s.send_to(q, server.addr()).unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

fn tcp(server: &DnsServer, q: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    body
}

#[test]
fn answers_records_nxdomain_and_counts() {
    let mut z = Zone::new();
    z.txt_strings("multi.test", &["v=spf1 ", "-all"])
        .a("host.test", Ipv4Addr::new(192, 0, 2, 1))
        .cname("alias.test", "host.test");
    let server = DnsServer::start(z).unwrap();

    let r = Message::from_vec(&udp(&server, &query("multi.test.", RecordType::TXT, 7)).unwrap())
        .unwrap();
    assert_eq!(r.metadata.id, 7);
    assert!(r.metadata.authoritative);
    let RData::TXT(txt) = &r.answers[0].data else {
        panic!("not TXT")
    };
    assert_eq!(txt.txt_data.len(), 2, "two character-strings kept apart");

    let r =
        Message::from_vec(&udp(&server, &query("alias.test.", RecordType::A, 8)).unwrap()).unwrap();
    assert_eq!(r.answers.len(), 2, "CNAME followed inside the zone");

    let r =
        Message::from_vec(&udp(&server, &query("nope.test.", RecordType::A, 9)).unwrap()).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities.len(), 1, "SOA for negative caching");

    let r = Message::from_vec(&udp(&server, &query("host.test.", RecordType::MX, 10)).unwrap())
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty(), "NODATA");

    assert_eq!(server.queries(), 4);
    assert_eq!(server.queries_for("HOST.test"), 1);
}

#[test]
fn enormous_txt_is_truncated_on_udp_and_whole_on_tcp() {
    let mut z = Zone::new();
    let big: Vec<String> = (0..200).map(|i| format!("{i:0>200}")).collect();
    z.txt_strings("big.test", &big);
    let server = DnsServer::start(z).unwrap();
    let r =
        Message::from_vec(&udp(&server, &query("big.test.", RecordType::TXT, 1)).unwrap()).unwrap();
    assert!(r.metadata.truncation);
    assert!(r.answers.is_empty());
    let r = Message::from_vec(&tcp(&server, &query("big.test.", RecordType::TXT, 2))).unwrap();
    assert!(!r.metadata.truncation);
    let RData::TXT(txt) = &r.answers[0].data else {
        panic!("not TXT")
    };
    assert_eq!(txt.txt_data.len(), 200, "over 40 KB over TCP");
    assert_eq!(server.tcp_queries(), 1);
}

#[test]
fn faults() {
    let mut z = Zone::new();
    z.a("slow.test", Ipv4Addr::LOCALHOST)
        .fault("slow.test", Fault::Timeout)
        .a("broken.test", Ipv4Addr::LOCALHOST)
        .fault("broken.test", Fault::ServFail)
        .a("garbage.test", Ipv4Addr::LOCALHOST)
        .fault("garbage.test", Fault::Malformed)
        .a("spoof.test", Ipv4Addr::LOCALHOST)
        .fault("spoof.test", Fault::WrongId);
    let server = DnsServer::start(z).unwrap();
    assert!(udp(&server, &query("slow.test.", RecordType::A, 1)).is_none());
    let r = Message::from_vec(&udp(&server, &query("broken.test.", RecordType::A, 2)).unwrap())
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(
        Message::from_vec(&udp(&server, &query("garbage.test.", RecordType::A, 3)).unwrap())
            .is_err()
    );
    let r =
        Message::from_vec(&udp(&server, &query("spoof.test.", RecordType::A, 4)).unwrap()).unwrap();
    assert_ne!(r.metadata.id, 4);
    // Faults change while the server runs.
    server.set_fault_all(Some(Fault::Refused));
    let r = Message::from_vec(&udp(&server, &query("x.test.", RecordType::A, 5)).unwrap()).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}
