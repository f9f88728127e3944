//! TCP echo on port 7 on every core: the README's "Writing an appliance" example.
#![no_std]
#![no_main]
use corenet::prelude::*;
// This core's network (`None` if the NIC has no queue for it) and its connections.
struct Echo(Option<Network>, Vec<Conn>);

impl Appliance for Echo {
    const NAME: &'static str = "echo";
    fn init(core: &mut Core) -> Self {
        let mut net = Network::start_or_stop(core, &AppMemory::default(), Self::NAME);
        if let Some(s) = net.as_mut().map(Network::sockets) {
            s.listen(7).or_boot_fail("echo: listen 7");
        }
        Echo(net, Vec::new())
    }
    fn poll(&mut self, core: &mut Core) -> Step {
        let (Some(net), conns) = (&mut self.0, &mut self.1) else {
            return Step::Idle;
        };
        // Receive, then the closure, then transmit: an echo leaves in the pass that read it.
        let busy = net.pass(core, |s| {
            while let Ok(c) = s.accept(7) {
                conns.push(c);
            }
            conns.retain(|c| {
                let mut buf = [0u8; 2048];
                let room = s.send_room(c).min(buf.len());
                match s.recv(c, &mut buf[..room]) {
                    Ok(n) => s.send(c, &buf[..n]).is_ok(),
                    Err(e) => e == RecvError::WouldBlock, // else dropping `c` closes it
                }
            });
            false // what moved came with received frames, which `pass` counts
        });
        if busy { Step::Busy } else { Step::Idle }
    }
}
corenet::appliance!(Echo);
