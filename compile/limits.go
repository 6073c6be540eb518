package compile

// Document and field limits. Numeric ranges of individual fields live next to
// the code that checks them and follow config.proto.
const (
	// MaxDocumentBytes bounds a config document, measured as its encoded
	// protobuf size (proto.Size).
	MaxDocumentBytes = 256 << 10
	// MaxJSONBytes bounds the JSON text DecodeJSON accepts, before decoding.
	// JSON is more verbose than protobuf, so this is looser than
	// MaxDocumentBytes, which is checked again after decoding.
	MaxJSONBytes = 4 * MaxDocumentBytes
	// MaxArtifactBytes is the default bound for a signed envelope: a full
	// document plus the payload header, key id and signature.
	MaxArtifactBytes = MaxDocumentBytes + 4<<10

	// MaxServices bounds breaker services per instance.
	MaxServices = 50
	// MaxURLBytes bounds an upstream URL.
	MaxURLBytes = 2048
	// MaxFallbackBodyBytes bounds a fallback body.
	MaxFallbackBodyBytes = 64 << 10
	// MaxFallbackHeaders bounds the headers of a fallback response.
	MaxFallbackHeaders = 20
	// MaxHeaderNameBytes and MaxHeaderValueBytes bound one fallback header.
	MaxHeaderNameBytes  = 256
	MaxHeaderValueBytes = 8 << 10

	// MinSecretChars and MaxSecretChars bound realtime secrets when set.
	MinSecretChars = 32
	MaxSecretChars = 256
	// MaxOrigins bounds realtime allowed_origins; MaxOriginBytes bounds one.
	MaxOrigins     = 100
	MaxOriginBytes = 253

	// maxViolations caps how many violations one validation reports, so a
	// hostile document cannot produce a megabyte of error details.
	maxViolations = 100
)

// Options are deployment-wide validation settings.
type Options struct {
	// AllowPrivateTargets lets upstream URLs point at loopback, private
	// (RFC 1918, ULA, CGNAT) and link-local addresses and names, for
	// self-hosted control planes and `switchboard dev`. Cloud metadata
	// addresses stay refused regardless.
	AllowPrivateTargets bool
}

// policy is Options plus what only this package decides.
type policy struct {
	allowPrivate bool
	// allowUnknown tolerates unknown protobuf fields. The API refuses them;
	// artifacts tolerate them so an older data plane keeps accepting
	// artifacts from a newer control plane.
	allowUnknown bool
}

func (o Options) policy() policy { return policy{allowPrivate: o.AllowPrivateTargets} }

// artifactPolicy is how Compile and Verify re-validate a spec. The control
// plane already validated it with the deployment's Options when it was
// stored; whether private targets were allowed is that deployment's choice,
// and the data plane's dialer enforces its own IsBlockedIP policy anyway.
var artifactPolicy = policy{allowPrivate: true, allowUnknown: true}
