package milter_test

import (
	"testing"

	gomilter "github.com/emersion/go-milter"
)

// BenchmarkTransaction is one whole transaction (connect, HELO, MAIL, two
// RCPT, end of message) through the real server over loopback with every
// early check configured, DNS answers cached after the first round: the
// milter's own cost per message.
func BenchmarkTransaction(b *testing.B) {
	h := newHarness(b, fullLists)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := h.dial(b)
		if act, err := s.Conn("[192.0.2.10]", gomilter.FamilyInet, 40000, "192.0.2.10"); err != nil || act.Code != gomilter.ActContinue {
			b.Fatal(act, err)
		}
		s.Helo("mail.good.test")
		s.Macros(gomilter.CodeMail, "i", "BENCH")
		s.Mail("<a@good.test>", nil)
		for _, r := range []string{"<b@good.test>", "<c@aonly.test>"} {
			if act, err := s.Rcpt(r, nil); err != nil || act.Code != gomilter.ActContinue {
				b.Fatal(act, err)
			}
		}
		if _, act, err := s.End(); err != nil || act.Code != gomilter.ActContinue {
			b.Fatal(act, err)
		}
		s.Close()
	}
}
