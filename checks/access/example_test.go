package access_test

import (
	"fmt"
	"net/netip"

	"github.com/mxguard/mxguard/checks/access"
)

// A check_client_access restriction: look the client up, then turn the
// table's value into Postfix's reply.
func Example() {
	table, err := access.Open("hash:testdata/client_access")
	if err != nil {
		fmt.Println(err)
		return
	}
	name, addr := "mail.example.net", netip.MustParseAddr("198.51.100.7")
	for _, m := range access.LookupClient([]*access.Table{table}, name, addr) {
		r, err := access.ParseResult(m.Value)
		if err != nil {
			fmt.Println(err)
			continue
		}
		code, enhanced, text := r.Reply(name+"["+addr.String()+"]", access.ClassClient)
		fmt.Println(m.Key, r.Kind, code, enhanced, text)
	}
	// Output:
	// 198.51.100.7 REJECT 550 5.7.1 <mail.example.net[198.51.100.7]>: Client host rejected: You are listed as a spam source
}

// check_sender_access with recipient_delimiter = +, and the null sender.
func ExampleOptions_LookupMail() {
	table, err := access.Open("hash:testdata/sender_access")
	if err != nil {
		fmt.Println(err)
		return
	}
	o := access.Options{RecipientDelimiter: "+"}
	for _, sender := range []string{"<Sales+Spring@Example.COM>", "<>", "joe@mail.example.org", "joe@example.net"} {
		ms := o.LookupMail([]*access.Table{table}, sender)
		if len(ms) == 0 {
			fmt.Printf("%s: no match\n", sender)
			continue
		}
		fmt.Printf("%s: %s -> %s\n", sender, ms[0].Key, ms[0].Value)
	}
	// Output:
	// <Sales+Spring@Example.COM>: sales@example.com -> HOLD Check sales mail
	// <>: <> -> 550 5.7.1 No bounces here
	// joe@mail.example.org: example.org -> REJECT Domain is blocked
	// joe@example.net: no match
}
