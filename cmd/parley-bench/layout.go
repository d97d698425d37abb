package main

// reader is the user whose requests search and list measure.
const reader = 0

// searchReaderConvs is how many of the search corpus's conversations the reader is a member of.
const searchReaderConvs = 50

// layout says who is in which conversation: members[j] are conversation j's users, its creator
// first, and users is how many users the run has.
//
//   - search: conversation j is created by user 1+j with users 1+(j+1) and 1+(j+2) (mod convs) as
//     members, and the reader is also a member of the first 50: the others' conversations fill the
//     index around the reader's.
//   - list: conversation j is user 1+j's and the reader's.
//   - the other modes: user k is a member of conversation k mod convs.
func layout(cfg benchConfig) (users int, members [][]int) {
	members = make([][]int, cfg.convs)
	switch cfg.mode {
	case "search":
		for j := range members {
			members[j] = []int{1 + j}
			for d := 1; d <= 2 && d < cfg.convs; d++ {
				members[j] = append(members[j], 1+(j+d)%cfg.convs)
			}
			if j < searchReaderConvs {
				members[j] = append(members[j], reader)
			}
		}
		return 1 + cfg.convs, members
	case "list":
		for j := range members {
			members[j] = []int{1 + j, reader}
		}
		return 1 + cfg.convs, members
	}
	users = max(cfg.conns, cfg.convs)
	for k := range users {
		members[k%cfg.convs] = append(members[k%cfg.convs], k)
	}
	return users, members
}

// senders are the members of conv who send the seeded messages: all but the reader.
func (conv *benchConv) senders() []int {
	out := make([]int, 0, len(conv.members))
	for _, k := range conv.members {
		if k != reader {
			out = append(out, k)
		}
	}
	return out
}
