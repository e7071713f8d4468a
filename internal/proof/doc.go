// Package proof decides whether the images of a new revision have the
// upstream proof spec.promotion.requires asks for: Passed Verifications of
// the same digests in each required environment, old enough, with no later
// Failed run. It is pure (no client), so the controller and kubectl ramp
// verify decide alike.
package proof
