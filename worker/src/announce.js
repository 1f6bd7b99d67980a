// Decoding and validating client announces, mirroring pkg/wire's
// DecodeAnnounceRequest (pkg/wire/tracker_msg.go): the same checks in the same order
// with the same failure texts (rules.json "reasons"). Only the detail after
// "malformed tracker message: " differs, since Go's JSON errors cannot be
// reproduced word for word.
//
// Known differences from Go's encoding/json, harmless for real clients:
// Go matches object keys case-insensitively ("Action" works there, not
// here), and quotes an invalid action with Go's %q rather than JSON.

import rules from "../rules.json";

const reasons = rules.reasons;

// AnnounceError carries a failure reason for the client.
export class AnnounceError extends Error {}

function malformed(detail) {
  return new AnnounceError(`${reasons.malformed}: ${detail}`);
}

// isValidId: exactly idLength ASCII characters (wire.IsValidID).
export function isValidId(s) {
  if (typeof s !== "string" || s.length !== rules.idLength) return false;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return false;
  }
  return true;
}

// Go leaves a field at its zero value for JSON null; other mismatched
// types are decoding errors.
function stringField(obj, key, where) {
  const v = obj[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw malformed(`${where}${key} must be a string`);
  return v;
}

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sessionDescription(v, where) {
  if (v === undefined || v === null) return { type: "", sdp: "" };
  if (!isObject(v)) throw malformed(`${where} must be an object`);
  return { type: stringField(v, "type", `${where}.`), sdp: stringField(v, "sdp", `${where}.`) };
}

// seeding mirrors AnnounceRequest.Seeding: left is the number 0 or a string
// holding a decimal zero ("0", "0.0", "-0e3").
function seeding(left) {
  if (typeof left === "number") return left === 0;
  if (typeof left === "string" && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(left)) {
    return Number(left) === 0;
  }
  return false;
}

// decodeAnnounce parses one client message (a string) and returns
// {infoHash, peerId, event, seeding, offers: [{offerId, offer}], answer,
// offerId, toPeerId}, or throws an AnnounceError.
export function decodeAnnounce(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw malformed(err.message);
  }
  if (raw === null) raw = {}; // Go: null decodes to the zero value
  if (!isObject(raw)) throw malformed("a message must be a JSON object");

  const action = stringField(raw, "action", "");
  const infoHash = stringField(raw, "info_hash", "");
  const peerId = stringField(raw, "peer_id", "");
  const event = stringField(raw, "event", "");
  const offerId = stringField(raw, "offer_id", "");
  const toPeerId = stringField(raw, "to_peer_id", "");

  let offers = [];
  if (raw.offers !== undefined && raw.offers !== null) {
    if (!Array.isArray(raw.offers)) throw malformed("offers must be an array");
    offers = raw.offers.map((o, i) => {
      if (o === null) return { offerId: "", offer: { type: "", sdp: "" } };
      if (!isObject(o)) throw malformed(`offers[${i}] must be an object`);
      return {
        offerId: stringField(o, "offer_id", `offers[${i}].`),
        offer: sessionDescription(o.offer, `offers[${i}].offer`),
      };
    });
  }
  const answer = raw.answer === undefined || raw.answer === null ? null : sessionDescription(raw.answer, "answer");

  // Validation, in the order of AnnounceRequest.validate.
  if (action !== "announce") throw new AnnounceError(`${reasons.invalidAction}: ${JSON.stringify(action)}`);
  if (!isValidId(infoHash)) throw new AnnounceError(reasons.invalidInfoHash);
  if (!isValidId(peerId)) throw new AnnounceError(reasons.invalidPeerId);
  offers.forEach((o, i) => {
    if (!isValidId(o.offerId)) throw new AnnounceError(`${reasons.invalidOfferId} in offer ${i}`);
    if (o.offer.type === "" || o.offer.sdp === "") {
      throw new AnnounceError(`${reasons.invalidSessionDescription}: needs type and sdp in offer ${i}`);
    }
  });
  if (answer !== null) {
    if (!isValidId(toPeerId)) throw new AnnounceError(reasons.invalidToPeerId);
    if (!isValidId(offerId)) throw new AnnounceError(reasons.invalidOfferId);
  }
  return { infoHash, peerId, event, seeding: seeding(raw.left), offers, answer, offerId, toPeerId };
}
