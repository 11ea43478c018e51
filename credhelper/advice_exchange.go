package credhelper

// exchangeAdvice returns what a docker user should change when err's chain
// holds a registry refusal that a setting of ours can fix, without a
// leading separator; advise appends it after "; ".
//
// This is a stub on the identity branch: the acr branch (token/acr)
// supplies the real one, and the merge takes that file as it is.
func exchangeAdvice(err error) (advice string, ok bool) {
	return "", false
}
