//! Half-close: after `close` (our FIN) the connection still delivers what the peer sends,
//! as a proxy relaying a request-then-FIN needs.

extern crate std;

use super::*;
use crate::sim::SimNic;
use crate::testkit::{PEER_IP, Peer, cores_with, run};

#[test]
fn reading_continues_after_our_fin_until_the_peers() {
    let rss = RssConfig::new(2).unwrap();
    let nic = SimNic::new(rss.clone(), 1024);
    let mut cores = cores_with(&nic, &rss, true, |_| {});
    let mut peer = Peer::new(&nic);
    let ph = peer.listen(9, 4096);
    let conn = cores[0].connect((PEER_IP, 9)).unwrap();
    let mut now = 0;
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(cores[0].send(conn, b"request"), Ok(7));
    cores[0].close(conn).unwrap();
    assert_eq!(cores[0].send(conn, b"x"), Err(SendError::BadHandle));
    run(&mut cores, &mut peer, &mut now, 20);

    let ps = peer.tcp(ph);
    let mut b = [0u8; 16];
    assert_eq!(ps.recv_slice(&mut b), Ok(7));
    assert_eq!(&b[..7], b"request");
    assert!(!ps.may_recv(), "our FIN reached the peer");
    ps.send_slice(b"response").unwrap();
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(cores[0].recv(conn, &mut b), Ok(8));
    assert_eq!(&b[..8], b"response");
    assert_eq!(cores[0].recv(conn, &mut b), Err(RecvError::WouldBlock));

    peer.tcp(ph).close();
    run(&mut cores, &mut peer, &mut now, 20);
    assert_eq!(cores[0].recv(conn, &mut b), Err(RecvError::Finished));
    // A half-closed connection can still be reset (a proxy aborting both sides).
    assert_eq!(cores[0].abort(conn), Ok(()));
    run(&mut cores, &mut peer, &mut now, 5);
    assert_eq!(cores[0].connections(), 0);
    assert_eq!(cores[0].recv(conn, &mut b), Err(RecvError::BadHandle));
}
