package control

import (
	"fmt"
	"os/user"
	"strconv"
)

// lookupGroup resolves a group name or numeric ID.
func lookupGroup(g string) (int, error) {
	if id, err := strconv.Atoi(g); err == nil {
		return id, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return -1, fmt.Errorf("--control-group %q: %w", g, err)
	}
	return strconv.Atoi(grp.Gid)
}
