//! Which version of each API to speak with a broker, from the ranges its ApiVersions response
//! advertises.
//!
//! Kafka clients and brokers each support a range of versions per API; the client uses the
//! highest version in both ranges (KIP-35, KIP-511). This module takes the broker's ranges as
//! plain `(api_key, min_version, max_version)` triples, so it works with any decoder of the
//! ApiVersions response, and compares them with [`ApiKey::supported`].

use core::fmt;

use crate::protocol::{ApiKey, VersionRange};

/// The highest version of `api` that both this crate and a broker advertising `broker`
/// support.
///
/// ```
/// use embedded_kafka::protocol::{ApiKey, VersionError, VersionRange, negotiate};
///
/// // This crate speaks Produce 3..=11.
/// assert_eq!(negotiate(ApiKey::Produce, VersionRange::new(0, 13)), Ok(11));
/// assert_eq!(negotiate(ApiKey::Produce, VersionRange::new(0, 7)), Ok(7));
/// assert_eq!(
///     negotiate(ApiKey::Produce, VersionRange::new(0, 2)),
///     Err(VersionError::NoCommonVersion {
///         api: ApiKey::Produce,
///         ours: VersionRange::new(3, 11),
///         broker: VersionRange::new(0, 2),
///     })
/// );
/// ```
pub fn negotiate(api: ApiKey, broker: VersionRange) -> Result<i16, VersionError> {
    let Some(ours) = api.supported() else {
        return Err(VersionError::NotImplemented { api });
    };
    ours.highest_common(broker)
        .ok_or(VersionError::NoCommonVersion { api, ours, broker })
}

/// Why an API cannot be used with a broker.
///
/// ```
/// use embedded_kafka::protocol::{ApiKey, VersionError, VersionRange};
///
/// let e = VersionError::NoCommonVersion {
///     api: ApiKey::Produce,
///     ours: VersionRange::new(3, 11),
///     broker: VersionRange::new(0, 2),
/// };
/// assert_eq!(
///     e.to_string(),
///     "no version of Produce (0) in common: this client speaks 3..=11, the broker 0..=2"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VersionError {
    /// The broker's ApiVersions response does not list the API at all (a broker too old for
    /// it, or one that does not implement it, as a broker without SASL listeners may not list
    /// the SASL APIs).
    NotSupportedByBroker {
        /// The API that is missing.
        api: ApiKey,
    },
    /// Both sides speak the API, but no version of it: the broker is too old (its highest
    /// version is below our lowest) or too new (its lowest is above our highest).
    NoCommonVersion {
        /// The API.
        api: ApiKey,
        /// The versions this crate speaks ([`ApiKey::supported`]).
        ours: VersionRange,
        /// The versions the broker advertised.
        broker: VersionRange,
    },
    /// This crate does not implement the API (an [`ApiKey::Other`]), so there is nothing to
    /// negotiate: the caller's mistake, not the broker's.
    NotImplemented {
        /// The API.
        api: ApiKey,
    },
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotSupportedByBroker { api } => {
                write!(f, "the broker does not support {api}")
            }
            Self::NoCommonVersion { api, ours, broker } => write!(
                f,
                "no version of {api} in common: this client speaks {ours}, the broker {broker}"
            ),
            Self::NotImplemented { api } => {
                write!(f, "{api} is not an API this client implements")
            }
        }
    }
}

impl core::error::Error for VersionError {}

/// What was learnt about one API from the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Slot {
    /// Not in the broker's list.
    Absent,
    /// Listed, with no version in common.
    Unusable { broker: VersionRange },
    /// Listed; `version` is the highest common one.
    Chosen { version: i16, broker: VersionRange },
}

/// The version chosen for each API in [`ApiKey::ALL`] on one broker connection.
///
/// Built from the broker's ApiVersions response by [`from_broker`](Self::from_broker), which
/// fails, naming the API, when one the caller cannot do without is missing or has no common
/// version; the others (SASL on a connection without authentication, InitProducerId for a
/// producer without idempotence) may be unusable, and [`get`](Self::get) then returns `None`.
///
/// ```
/// use embedded_kafka::protocol::{ApiKey, NegotiatedVersions, VersionError};
///
/// // What Tansu advertises.
/// let broker = [(0, 0, 11), (3, 0, 12), (17, 0, 1), (18, 0, 4), (22, 0, 5), (36, 0, 2)];
/// let required = [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce];
/// let versions = NegotiatedVersions::from_broker(broker, &required)?;
/// assert_eq!(versions.get(ApiKey::Produce), Some(11));
/// assert_eq!(versions.get(ApiKey::Metadata), Some(12));
///
/// // A broker without InitProducerId: fine unless idempotence needs it.
/// let old = [(0, 0, 11), (3, 0, 12), (18, 0, 4)];
/// let versions = NegotiatedVersions::from_broker(old, &required)?;
/// assert_eq!(versions.get(ApiKey::InitProducerId), None);
/// assert_eq!(
///     NegotiatedVersions::from_broker(old, &[ApiKey::Produce, ApiKey::InitProducerId]),
///     Err(VersionError::NotSupportedByBroker { api: ApiKey::InitProducerId })
/// );
/// # Ok::<(), VersionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NegotiatedVersions {
    /// One per API, in the order of [`ApiKey::ALL`].
    slots: [Slot; ApiKey::ALL.len()],
}

/// Index of `api` in [`ApiKey::ALL`].
fn index(api: ApiKey) -> Option<usize> {
    ApiKey::ALL.iter().position(|&a| a == api)
}

impl NegotiatedVersions {
    /// Chooses a version for every API in [`ApiKey::ALL`] from the broker's advertised
    /// `(api_key, min_version, max_version)` ranges, as its ApiVersions response lists them,
    /// and checks that every API in `required` is usable.
    ///
    /// Keys this crate does not implement are ignored. If a key is listed twice, the last
    /// range counts (as in the Java client, which keeps them in a map). The first unusable
    /// required API, in the order of `required`, is the error.
    pub fn from_broker<I>(broker: I, required: &[ApiKey]) -> Result<Self, VersionError>
    where
        I: IntoIterator<Item = (i16, i16, i16)>,
    {
        let mut slots = [Slot::Absent; ApiKey::ALL.len()];
        for (key, min, max) in broker {
            let api = ApiKey::from_key(key);
            let Some(slot) = index(api).and_then(|i| slots.get_mut(i)) else {
                continue;
            };
            let broker = VersionRange::new(min, max);
            *slot = match negotiate(api, broker) {
                Ok(version) => Slot::Chosen { version, broker },
                Err(_) => Slot::Unusable { broker },
            };
        }
        let negotiated = Self { slots };
        for &api in required {
            negotiated.version(api)?;
        }
        Ok(negotiated)
    }

    fn slot(&self, api: ApiKey) -> Option<Slot> {
        index(api).and_then(|i| self.slots.get(i)).copied()
    }

    /// The version to use for `api`, or `None` if it cannot be used with this broker.
    pub fn get(&self, api: ApiKey) -> Option<i16> {
        self.version(api).ok()
    }

    /// The version to use for `api`, or why it cannot be used with this broker: what
    /// [`from_broker`](Self::from_broker) would have said had `api` been required.
    pub fn version(&self, api: ApiKey) -> Result<i16, VersionError> {
        match self.slot(api) {
            None => Err(VersionError::NotImplemented { api }),
            Some(Slot::Absent) => Err(VersionError::NotSupportedByBroker { api }),
            Some(Slot::Unusable { broker }) => negotiate(api, broker),
            Some(Slot::Chosen { version, .. }) => Ok(version),
        }
    }

    /// The range the broker advertised for `api`, if it listed it (for logs and diagnostics).
    pub fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        match self.slot(api)? {
            Slot::Absent => None,
            Slot::Unusable { broker } | Slot::Chosen { broker, .. } => Some(broker),
        }
    }

    /// Every API this crate implements with its chosen version (`None`: not usable).
    pub fn iter(&self) -> impl Iterator<Item = (ApiKey, Option<i16>)> + '_ {
        ApiKey::ALL.into_iter().map(|api| (api, self.get(api)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TANSU: [(i16, i16, i16); 7] = [
        (0, 0, 11),
        (1, 0, 17),
        (3, 0, 12),
        (18, 0, 4),
        (22, 0, 5),
        (17, 0, 1),
        (36, 0, 2),
    ];

    const PRODUCER: [ApiKey; 3] = [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce];

    #[test]
    fn tansu_gets_our_highest_version_of_everything() {
        let v = NegotiatedVersions::from_broker(TANSU, &ApiKey::ALL).expect("all usable");
        assert_eq!(v.get(ApiKey::Produce), Some(11));
        assert_eq!(v.get(ApiKey::Fetch), Some(17));
        assert_eq!(v.get(ApiKey::Metadata), Some(12));
        assert_eq!(v.get(ApiKey::ApiVersions), Some(4));
        assert_eq!(v.get(ApiKey::InitProducerId), Some(5));
        assert_eq!(v.get(ApiKey::SaslHandshake), Some(1));
        assert_eq!(v.get(ApiKey::SaslAuthenticate), Some(2));
        assert_eq!(
            v.broker_range(ApiKey::Produce),
            Some(VersionRange::new(0, 11))
        );
        let mut all = v.iter();
        assert_eq!(all.next(), Some((ApiKey::Produce, Some(11))));
        assert_eq!(all.next(), Some((ApiKey::Fetch, Some(17))));
        assert_eq!(all.count(), 5);
    }

    #[test]
    fn a_broker_speaking_only_produce_0_to_2() {
        let broker = [(0, 0, 2)];
        let expected = VersionError::NoCommonVersion {
            api: ApiKey::Produce,
            ours: VersionRange::new(3, 11),
            broker: VersionRange::new(0, 2),
        };
        assert_eq!(
            NegotiatedVersions::from_broker(broker, &[ApiKey::Produce]),
            Err(expected)
        );
        // Required in another order, the first failure is reported.
        assert_eq!(
            NegotiatedVersions::from_broker(broker, &PRODUCER),
            Err(VersionError::NotSupportedByBroker {
                api: ApiKey::ApiVersions
            })
        );
        // Nothing required: built, and every question answered precisely.
        let v = NegotiatedVersions::from_broker(broker, &[]).expect("nothing required");
        assert_eq!(v.get(ApiKey::Produce), None);
        assert_eq!(v.version(ApiKey::Produce), Err(expected));
        assert_eq!(
            v.version(ApiKey::Metadata),
            Err(VersionError::NotSupportedByBroker {
                api: ApiKey::Metadata
            })
        );
        assert_eq!(
            v.broker_range(ApiKey::Produce),
            Some(VersionRange::new(0, 2))
        );
        assert_eq!(v.broker_range(ApiKey::Metadata), None);
    }

    #[test]
    fn optional_sasl_may_be_missing_required_sasl_may_not() {
        let no_sasl = [(0, 0, 11), (3, 0, 12), (18, 0, 4)];
        let v = NegotiatedVersions::from_broker(no_sasl, &PRODUCER).expect("SASL optional");
        assert_eq!(v.get(ApiKey::SaslHandshake), None);
        assert_eq!(v.get(ApiKey::SaslAuthenticate), None);
        assert_eq!(
            NegotiatedVersions::from_broker(
                no_sasl,
                &[ApiKey::SaslHandshake, ApiKey::SaslAuthenticate]
            ),
            Err(VersionError::NotSupportedByBroker {
                api: ApiKey::SaslHandshake
            })
        );
    }

    #[test]
    fn unknown_keys_are_ignored_and_the_last_duplicate_counts() {
        let broker = [
            (2, 0, 9), // ListOffsets: not implemented here
            (0, 0, 4),
            (3, 0, 12),
            (0, 5, 9),
            (-3, 0, 1),
            (18, 0, 4),
        ];
        let v = NegotiatedVersions::from_broker(broker, &PRODUCER).expect("usable");
        assert_eq!(v.get(ApiKey::Produce), Some(9));
        assert_eq!(v.get(ApiKey::Other(2)), None);
        assert_eq!(
            v.version(ApiKey::Other(2)),
            Err(VersionError::NotImplemented {
                api: ApiKey::Other(2)
            })
        );
        assert_eq!(
            NegotiatedVersions::from_broker(broker, &[ApiKey::Other(2)]),
            Err(VersionError::NotImplemented {
                api: ApiKey::Other(2)
            })
        );
    }

    #[test]
    fn negotiate_edges() {
        let m = ApiKey::Metadata; // ours 1..=12
        assert_eq!(negotiate(m, VersionRange::new(0, 1)), Ok(1));
        assert_eq!(negotiate(m, VersionRange::new(12, 20)), Ok(12));
        assert_eq!(negotiate(m, VersionRange::new(5, 5)), Ok(5));
        for broker in [
            VersionRange::new(0, 0),
            VersionRange::new(13, 20),
            VersionRange::new(9, 4),
            VersionRange::new(-5, -1),
        ] {
            assert_eq!(
                negotiate(m, broker),
                Err(VersionError::NoCommonVersion {
                    api: m,
                    ours: VersionRange::new(1, 12),
                    broker
                })
            );
        }
        assert_eq!(
            negotiate(ApiKey::Other(50), VersionRange::new(0, 3)),
            Err(VersionError::NotImplemented {
                api: ApiKey::Other(50)
            })
        );
    }

    #[test]
    fn every_supported_range_negotiates_to_its_own_max() {
        for api in ApiKey::ALL {
            let ours = api.supported().expect("implemented");
            assert_eq!(negotiate(api, ours), Ok(ours.max));
            assert_eq!(negotiate(api, VersionRange::new(0, i16::MAX)), Ok(ours.max));
        }
    }
}
