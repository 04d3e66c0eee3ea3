//! Static vocabulary of the generated traffic: endpoints, user agents, TLS parameters.
//!
//! Kept apart from the simulation so that realism (the strings a parser will meet: spaces,
//! parentheses and semicolons in user agents, query strings, percent escapes) can be extended
//! without touching the physics. Records refer to these tables by index, which keeps the
//! in-flight records small and allocation-free.

/// How the variable part of a path is rendered from a request's random parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param {
    None,
    /// Decimal id in 1..=n.
    Id(u32),
    /// 8 hex digits (asset fingerprints).
    Hex,
    /// One of [`SEARCH_WORDS`].
    Word,
}

/// One route of the simulated shop application.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub method: &'static str,
    pub prefix: &'static str,
    pub param: Param,
    pub suffix: &'static str,
    /// Relative frequency in the background traffic (0 = poller-only route).
    pub weight: u32,
    /// Factor on the scenario's median target processing time.
    pub time_factor: f64,
    /// Median response size in bytes for a 200.
    pub sent_median: f64,
    /// Request body bytes on top of the headers.
    pub body: u32,
    /// Status for a success (200, 201, 204, 302).
    pub ok_status: u16,
    /// Probability of a conditional GET answered 304.
    pub p_304: f64,
    /// Probability of a 4xx (404 for pages/assets, 401 for the API).
    pub p_4xx: f64,
    /// `matched_rule_priority`.
    pub rule: u16,
}

const fn ep(
    method: &'static str,
    prefix: &'static str,
    param: Param,
    suffix: &'static str,
    weight: u32,
    time_factor: f64,
    sent_median: f64,
) -> Endpoint {
    Endpoint {
        method,
        prefix,
        param,
        suffix,
        weight,
        time_factor,
        sent_median,
        body: 0,
        ok_status: 200,
        p_304: 0.0,
        p_4xx: 0.004,
        rule: 2,
    }
}

/// Routes. The last three are used by pollers only.
pub(crate) const ENDPOINTS: &[Endpoint] = &[
    Endpoint { p_304: 0.10, rule: 0, ..ep("GET", "/", Param::None, "", 60, 1.2, 38_000.0) },
    Endpoint {
        p_304: 0.05,
        p_4xx: 0.02,
        rule: 0,
        ..ep("GET", "/products/", Param::Id(48_000), "", 140, 1.0, 52_000.0)
    },
    ep("GET", "/api/products?page=", Param::Id(40), "&sort=price_asc&limit=24", 90, 0.9, 9_500.0),
    ep("GET", "/api/cart", Param::None, "", 70, 0.5, 1_800.0),
    Endpoint {
        body: 180,
        ok_status: 201,
        ..ep("POST", "/api/cart/items", Param::None, "", 25, 1.4, 900.0)
    },
    Endpoint {
        ok_status: 204,
        ..ep("DELETE", "/api/cart/items/", Param::Id(900_000), "", 6, 0.8, 0.0)
    },
    Endpoint {
        p_304: 0.35,
        p_4xx: 0.001,
        rule: 1,
        ..ep("GET", "/static/js/app.", Param::Hex, ".js", 110, 0.05, 210_000.0)
    },
    Endpoint {
        p_304: 0.35,
        p_4xx: 0.001,
        rule: 1,
        ..ep("GET", "/static/css/main.", Param::Hex, ".css", 70, 0.05, 48_000.0)
    },
    Endpoint {
        p_304: 0.25,
        p_4xx: 0.01,
        rule: 1,
        ..ep("GET", "/images/p/", Param::Id(48_000), "-640w.webp", 160, 0.08, 61_000.0)
    },
    ep("GET", "/api/search?q=", Param::Word, "&limit=20", 45, 2.2, 14_000.0),
    ep("GET", "/api/recommendations?user=", Param::Id(2_000_000), "&n=12", 35, 2.8, 7_200.0),
    Endpoint { body: 1_400, ..ep("POST", "/api/checkout", Param::None, "", 4, 6.0, 1_100.0) },
    Endpoint { body: 240, ..ep("PUT", "/api/account/preferences", Param::None, "", 5, 1.1, 420.0) },
    Endpoint {
        ok_status: 302,
        rule: 0,
        ..ep("GET", "/account/login?next=%2Fcart", Param::None, "", 12, 0.4, 310.0)
    },
    Endpoint {
        p_304: 0.3,
        p_4xx: 0.05,
        rule: 1,
        ..ep("GET", "/favicon.ico", Param::None, "", 20, 0.03, 15_086.0)
    },
    // Poller-only routes.
    Endpoint {
        p_304: 0.97,
        p_4xx: 0.0,
        ..ep("GET", "/api/orders/summary", Param::None, "", 0, 0.1, 2_400.0)
    },
    Endpoint { p_4xx: 0.0, rule: 3, ..ep("GET", "/health", Param::None, "", 0, 0.05, 120.0) },
    Endpoint {
        p_4xx: 0.0,
        ..ep("GET", "/api/v2/feed?since=", Param::Id(9_000_000), "&limit=50", 0, 1.5, 18_000.0)
    },
];

pub(crate) const EP_DASHBOARD: u8 = (ENDPOINTS.len() - 3) as u8;
pub(crate) const EP_HEALTH: u8 = (ENDPOINTS.len() - 2) as u8;
pub(crate) const EP_FEED: u8 = (ENDPOINTS.len() - 1) as u8;

/// Cumulative background weights over [`ENDPOINTS`].
pub(crate) fn endpoint_cumulative() -> Vec<u32> {
    ENDPOINTS
        .iter()
        .scan(0u32, |acc, e| {
            *acc += e.weight;
            Some(*acc)
        })
        .collect()
}

/// Search terms; a few carry percent escapes, as browsers send them.
pub(crate) const SEARCH_WORDS: &[&str] = &[
    "red+shoes",
    "laptop",
    "usb-c%20cable",
    "coffee+grinder",
    "garden%20chair",
    "kids%27+toys",
    "%E6%9D%B1%E4%BA%AC",
    "winter+jacket",
    "phone",
    "desk+lamp",
];

/// Raw search with a literal space: the ALB logs the request as received, classification
/// `Acceptable` / `SpaceInUri`, and the quoted request has more than three parts.
pub(crate) const SPACE_IN_URI_WORD: &str = "red shoes";

/// Kind of client software, which decides the protocol (browsers speak h2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agent {
    Browser,
    Tool,
}

/// User agents with their background weight.
pub(crate) const USER_AGENTS: &[(&str, Agent, u32)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
        Agent::Browser,
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15",
        Agent::Browser,
        12,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0", Agent::Browser, 6),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
        Agent::Browser,
        18,
    ),
    (
        "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
        Agent::Browser,
        10,
    ),
    ("3.20.0 (Build/1900005469; Android 33; samsung; SM-G781B) okhttp/4.11.0", Agent::Tool, 8),
    ("okhttp/4.12.0", Agent::Tool, 4),
    ("curl/8.5.0", Agent::Tool, 3),
    ("python-requests/2.32.3", Agent::Tool, 3),
    ("Go-http-client/2.0", Agent::Tool, 2),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Agent::Tool, 3),
    ("-", Agent::Tool, 1),
];

pub(crate) const UA_CHROME: u8 = 0;
pub(crate) const UA_OKHTTP_APP: u8 = 5;
pub(crate) const UA_HEALTH: u8 = USER_AGENTS.len() as u8;
/// Written for [`UA_HEALTH`]; not part of the background mix.
pub(crate) const HEALTH_CHECKER_UA: &str = "ELB-HealthChecker/2.0";

pub(crate) fn user_agent(i: u8) -> &'static str {
    match USER_AGENTS.get(usize::from(i)) {
        Some((s, _, _)) => s,
        None => HEALTH_CHECKER_UA,
    }
}

pub(crate) fn user_agent_cumulative() -> Vec<u32> {
    USER_AGENTS
        .iter()
        .scan(0u32, |acc, (_, _, w)| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}

/// (cipher, protocol, weight) negotiated on the HTTPS listener.
pub(crate) const TLS: &[(&str, &str, u32)] = &[
    ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 50),
    ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 10),
    ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", 34),
    ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 5),
    ("ECDHE-RSA-AES128-SHA256", "TLSv1.2", 1),
];

pub(crate) fn tls_cumulative() -> Vec<u32> {
    TLS.iter()
        .scan(0u32, |acc, (_, _, w)| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}
