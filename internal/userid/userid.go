// Package userid is the contract's rule for a user id (a token's sub, a member, a mention, a
// watched user): 1 to 128 of A-Z a-z 0-9 . _ : @ -, the UserID schema's pattern
// ^[A-Za-z0-9._:@-]{1,128}$. One rule, for the server, the hub and the development tokens.
package userid

// Valid says whether id is a user id. It checks bytes, without a regexp: the hub calls it on its
// readers' path.
func Valid(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch ch := id[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case ch == '.' || ch == '_' || ch == ':' || ch == '@' || ch == '-':
		default:
			return false
		}
	}
	return true
}
