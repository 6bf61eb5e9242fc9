//! The order in which a bulk request's operations run (RFC 7644 §3.7.2: an
//! operation referring to a `bulkId` runs after the operation that defines
//! it, even when that one comes later in the request) and the circular
//! references among them (§3.7.1).
//!
//! A circular reference (a cycle of operations each waiting for the next,
//! or one referring to its own `bulkId`) is not resolved: §3.7.1 lets the
//! service provider "stop after a failed attempt and instead return HTTP
//! status code 409 (Conflict)", and so every operation on a cycle answers
//! 409. Operations that wait on one of them fail in turn, as they would
//! after any failed operation. Everything else runs in request order,
//! except that the operations an operation refers to run just before it.

/// The processing plan of `n` operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Every operation's index, once, each after the operations it depends
    /// on (except on a cycle); otherwise in request order, with what an
    /// operation depends on pulled ahead of it.
    pub(crate) order: Vec<usize>,
    /// Whether each operation lies on a circular reference.
    pub(crate) cyclic: Vec<bool>,
}

/// The plan of operations whose dependencies are `deps[i]` (the indices of
/// the operations operation `i` refers to; repeats allowed), in time linear
/// in operations plus references.
///
/// One pass of Tarjan's strongly connected components algorithm gives
/// both: a component is complete only after every component it reaches
/// (what it depends on), so the order in which components complete is a
/// dependency order; a component of two or more operations, or one
/// operation referring to itself, is a cycle. Iterative, so that a long
/// chain of references cannot exhaust the stack.
pub(crate) fn plan(deps: &[Vec<usize>]) -> Plan {
    let n = deps.len();
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut cyclic = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut next = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (operation, position in its dependency list)
        let mut calls = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            if let Some(&w) = deps[v].get(*pos) {
                *pos += 1;
                if w == v {
                    cyclic[v] = true;
                } else if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                // `v` completes a component: everything above it on the stack.
                let from = stack.iter().rposition(|&w| w == v).unwrap_or(0);
                let component = stack.split_off(from);
                let circular = component.len() > 1;
                for &w in &component {
                    on_stack[w] = false;
                    cyclic[w] |= circular;
                }
                order.extend(component);
            }
        }
    }
    Plan { order, cyclic }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_references_the_request_order_holds() {
        let p = plan(&vec![Vec::new(); 5]);
        assert_eq!(p.order, [0, 1, 2, 3, 4]);
        assert!(p.cyclic.iter().all(|c| !c));
    }

    #[test]
    fn a_forward_reference_runs_after_its_target() {
        // 0 (a group) refers to 2 and 3 (users created later); 1 is unrelated.
        let p = plan(&[vec![2, 3, 2], vec![], vec![], vec![]]);
        assert_eq!(p.order, [2, 3, 0, 1]);
        // A chain backwards through the request.
        let p = plan(&[vec![1], vec![2], vec![3], vec![]]);
        assert_eq!(p.order, [3, 2, 1, 0]);
    }

    #[test]
    fn cycles_are_found_and_their_dependents_run_after_them() {
        // 0 <-> 1 is a cycle; 2 refers to itself; 3 waits on 0; 4 is free;
        // 5 and 6 form a longer cycle with 7: 5 -> 6 -> 7 -> 5.
        let p = plan(&[
            vec![1],
            vec![0],
            vec![2],
            vec![0],
            vec![],
            vec![6],
            vec![7],
            vec![5],
        ]);
        assert_eq!(p.cyclic, [true, true, true, false, false, true, true, true]);
        let pos = |i| p.order.iter().position(|&x| x == i).unwrap();
        assert!(pos(3) > pos(0) && pos(3) > pos(1));
        let mut all = p.order.clone();
        all.sort();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn a_long_chain_does_not_exhaust_the_stack() {
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![0] })
            .collect();
        let p = plan(&deps);
        assert!(p.cyclic.iter().all(|&c| c));
        assert_eq!(p.order.len(), n);
    }
}
