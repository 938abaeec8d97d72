package sim

// takeSlot returns the index of a slot of *items for a new element,
// reusing the most recently freed index in *free before growing *items.
// Hops and server jobs live in such slabs so that a long run allocates
// as many of them as are ever in flight at once, not one per request;
// the caller overwrites the slot.
func takeSlot[T any](items *[]T, free *[]int32) int32 {
	if n := len(*free); n > 0 {
		i := (*free)[n-1]
		*free = (*free)[:n-1]
		return i
	}
	var zero T
	*items = append(*items, zero)
	return int32(len(*items) - 1)
}
