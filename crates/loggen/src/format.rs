//! Turns a simulated [`Rec`] into one access-log line in the 2026 layout (fields 1-34).
//!
//! This is the hot loop of corpus generation, so it writes bytes straight into a reused buffer:
//! strings that are the same on every line (ARNs, the `elb` id, targets) are rendered once,
//! numbers go through a small digit writer instead of `fmt`, and timestamps through a per-second
//! cache. The field order and quoting follow section 1.2 of the project's ALB reference.

use crate::clock::{TsWriter, put_digits};
use crate::scenario::Scenario;
use crate::sim::{Ip, Kind, LAMBDA_TG, NO_TARGET, NO_TG, Proto, Rec};
use crate::vocab::{self, ENDPOINTS, Param, SEARCH_WORDS, SPACE_IN_URI_WORD, TLS};

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) struct Formatter {
    ts: TsWriter,
    elb: Vec<u8>,
    tg_arns: Vec<Vec<u8>>,
    lambda_arn: Vec<u8>,
    targets: Vec<Vec<u8>>,
    https_host: Vec<u8>,
    http_host: Vec<u8>,
    domain: Vec<u8>,
    cert: Vec<u8>,
    node_ip: Vec<u8>,
}

impl Formatter {
    pub(crate) fn new(sc: &Scenario) -> Self {
        Formatter {
            ts: TsWriter::new(),
            elb: sc.load_balancer().into_bytes(),
            tg_arns: sc.target_groups.iter().map(|t| sc.target_group_arn(t).into_bytes()).collect(),
            lambda_arn: sc.lambda_target_group_arn().into_bytes(),
            targets: sc
                .target_groups
                .iter()
                .flat_map(|t| t.targets.iter().map(|a| a.clone().into_bytes()))
                .collect(),
            https_host: format!("https://{}:443", sc.domain_name).into_bytes(),
            http_host: format!("http://{}:80", sc.node_ip).into_bytes(),
            domain: sc.domain_name.clone().into_bytes(),
            cert: sc.certificate_arn().into_bytes(),
            node_ip: sc.node_ip.clone().into_bytes(),
        }
    }

    /// Appends the line for `r`, newline included.
    pub(crate) fn line(&mut self, r: &Rec, o: &mut Vec<u8>) {
        let proto = r.client.proto;
        let tls = proto != Proto::Http;
        let target: Option<&[u8]> = if r.target == NO_TARGET {
            None
        } else {
            self.targets.get(r.target as usize).map(Vec::as_slice)
        };
        let ep = &ENDPOINTS[usize::from(r.endpoint)];

        // 1 type, 2 time, 3 elb
        o.extend_from_slice(match proto {
            Proto::Http => b"http ",
            Proto::Https => b"https ",
            Proto::H2 => b"h2 ",
        });
        self.ts.write(o, r.time_us);
        o.push(b' ');
        o.extend_from_slice(&self.elb);
        o.push(b' ');
        // 4 client:port (IPv6 unbracketed), 5 target:port
        push_ip(o, r.client.ip);
        o.push(b':');
        push_u64(o, u64::from(r.client.port));
        o.push(b' ');
        o.extend_from_slice(target.unwrap_or(b"-"));
        o.push(b' ');
        // 6-8 processing times
        push_secs(o, r.rpt_us);
        o.push(b' ');
        push_secs(o, r.tpt_us);
        o.push(b' ');
        push_secs(o, r.resp_us);
        o.push(b' ');
        // 9-12 status codes and byte counts
        push_u64(o, u64::from(r.elb_status));
        o.push(b' ');
        push_status(o, r.target_status);
        o.push(b' ');
        push_u64(o, u64::from(r.received));
        o.push(b' ');
        push_u64(o, u64::from(r.sent));
        // 13 "request"
        o.extend_from_slice(b" \"");
        if r.kind == Kind::Malformed {
            o.extend_from_slice(b"- - -");
        } else {
            o.extend_from_slice(ep.method.as_bytes());
            o.push(b' ');
            o.extend_from_slice(if tls { &self.https_host } else { &self.http_host });
            o.extend_from_slice(ep.prefix.as_bytes());
            match ep.param {
                Param::None => {}
                Param::Id(n) => push_u64(o, u64::from(r.param % n.max(1)) + 1),
                Param::Hex => push_hex(o, u64::from(r.param), 8),
                Param::Word => {
                    let w = if r.space_in_uri {
                        SPACE_IN_URI_WORD
                    } else {
                        SEARCH_WORDS[r.param as usize % SEARCH_WORDS.len()]
                    };
                    o.extend_from_slice(w.as_bytes());
                }
            }
            o.extend_from_slice(ep.suffix.as_bytes());
            o.extend_from_slice(if proto == Proto::H2 { b" HTTP/2.0" } else { b" HTTP/1.1" });
        }
        // 14 "user_agent"
        o.extend_from_slice(b"\" \"");
        if r.kind == Kind::Malformed {
            o.push(b'-');
        } else {
            o.extend_from_slice(vocab::user_agent(r.client.ua).as_bytes());
        }
        o.extend_from_slice(b"\" ");
        // 15 ssl_cipher, 16 ssl_protocol
        if tls {
            let (cipher, protocol, _) = TLS[usize::from(r.client.tls) % TLS.len()];
            o.extend_from_slice(cipher.as_bytes());
            o.push(b' ');
            o.extend_from_slice(protocol.as_bytes());
        } else {
            o.extend_from_slice(b"- -");
        }
        o.push(b' ');
        // 17 target_group_arn
        match r.tg {
            NO_TG => o.push(b'-'),
            LAMBDA_TG => o.extend_from_slice(&self.lambda_arn),
            i => o.extend_from_slice(self.tg_arns.get(usize::from(i)).map_or(b"-", Vec::as_slice)),
        }
        // 18 "trace_id": Root=1-<epoch seconds hex>-<96 random bits>
        if r.kind == Kind::Malformed {
            o.extend_from_slice(b" \"-\"");
        } else {
            o.extend_from_slice(b" \"Root=1-");
            push_hex(o, r.rct_us.div_euclid(1_000_000) as u64, 8);
            o.push(b'-');
            push_hex(o, r.trace.0, 16);
            push_hex(o, u64::from(r.trace.1), 8);
            o.push(b'"');
        }
        // 19 "domain_name", 20 "chosen_cert_arn"
        if tls && r.kind != Kind::Malformed {
            o.extend_from_slice(b" \"");
            o.extend_from_slice(&self.domain);
            o.extend_from_slice(b"\" \"");
            if r.client.session_reused {
                o.extend_from_slice(b"session-reused");
            } else {
                o.extend_from_slice(&self.cert);
            }
            o.extend_from_slice(b"\" ");
        } else {
            o.extend_from_slice(b" \"-\" \"-\" ");
        }
        // 21 matched_rule_priority, 22 request_creation_time
        let rule = match r.kind {
            Kind::Malformed => 0,
            Kind::Lambda => 4,
            _ => ep.rule,
        };
        push_u64(o, u64::from(rule));
        o.push(b' ');
        self.ts.write(o, r.rct_us);
        // 23 "actions_executed", 24 "redirect_url", 25 "error_reason"
        o.extend_from_slice(match r.kind {
            Kind::Malformed => b" \"-\" \"-\" \"-\" ".as_slice(),
            Kind::Lambda => b" \"forward\" \"-\" \"LambdaUnhandled\" ".as_slice(),
            _ => b" \"forward\" \"-\" \"-\" ".as_slice(),
        });
        // 26 "target:port_list", 27 "target_status_code_list"
        o.push(b'"');
        o.extend_from_slice(target.unwrap_or(b"-"));
        o.extend_from_slice(b"\" \"");
        push_status(o, r.target_status);
        // 28 "classification", 29 "classification_reason"
        if r.space_in_uri && r.kind != Kind::Malformed {
            o.extend_from_slice(b"\" \"Acceptable\" \"SpaceInUri\" TID_");
        } else {
            o.extend_from_slice(b"\" \"-\" \"-\" TID_");
        }
        // 30 conn_trace_id (unquoted)
        push_hex(o, (r.client.tid >> 64) as u64, 16);
        push_hex(o, r.client.tid as u64, 16);
        // 31-33 transforms, 34 ip_address of the node
        o.extend_from_slice(b" \"-\" \"-\" \"-\" ");
        o.extend_from_slice(&self.node_ip);
        o.push(b'\n');
    }
}

fn push_u64(o: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    o.extend_from_slice(&buf[i..]);
}

/// Lower-case hex, exactly `digits` digits (high digits dropped).
fn push_hex(o: &mut Vec<u8>, v: u64, digits: usize) {
    for i in (0..digits).rev() {
        o.push(HEX[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// Seconds with millisecond precision, truncated as the ALB does; negative means `-1`.
fn push_secs(o: &mut Vec<u8>, us: i64) {
    if us < 0 {
        o.extend_from_slice(b"-1");
        return;
    }
    let ms = us / 1000;
    push_u64(o, (ms / 1000) as u64);
    let mut frac = [b'.', 0, 0, 0];
    put_digits(&mut frac[1..], (ms % 1000) as u32);
    o.extend_from_slice(&frac);
}

fn push_status(o: &mut Vec<u8>, status: u16) {
    if status == 0 { o.push(b'-') } else { push_u64(o, u64::from(status)) }
}

fn push_ip(o: &mut Vec<u8>, ip: Ip) {
    match ip {
        Ip::V4(b) => {
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    o.push(b'.');
                }
                push_u64(o, u64::from(*x));
            }
        }
        Ip::V6(g) => {
            for (i, x) in g.iter().enumerate() {
                if i > 0 {
                    o.push(b':');
                }
                let digits = (16 - x.leading_zeros()).div_ceil(4).max(1) as usize;
                push_hex(o, u64::from(*x), digits);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut o = Vec::new();
        f(&mut o);
        String::from_utf8_lossy(&o).into_owned()
    }

    #[test]
    fn numbers_render_like_the_alb() {
        assert_eq!(s(|o| push_secs(o, -1)), "-1");
        assert_eq!(s(|o| push_secs(o, 3_999)), "0.003");
        assert_eq!(s(|o| push_secs(o, 60_001_500)), "60.001");
        assert_eq!(s(|o| push_u64(o, 0)), "0");
        assert_eq!(s(|o| push_u64(o, u64::MAX)), u64::MAX.to_string());
        assert_eq!(s(|o| push_hex(o, 0xab, 4)), "00ab");
        assert_eq!(s(|o| push_status(o, 0)), "-");
    }

    #[test]
    fn ipv6_is_unbracketed_without_leading_zeros() {
        let ip = Ip::V6([0x2a02, 0xa33c, 0x4538, 0x1, 0xbcf4, 0x5264, 0xe01c, 0]);
        assert_eq!(s(|o| push_ip(o, ip)), "2a02:a33c:4538:1:bcf4:5264:e01c:0");
        assert_eq!(s(|o| push_ip(o, Ip::V4([10, 0, 1, 5]))), "10.0.1.5");
    }
}
