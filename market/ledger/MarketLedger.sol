// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Ledger of the gridloop P2P energy market (docs/market.md, "Ledger").
/// Money is in integer micro-units (1 Wh at 1 unit/MWh); energy in Wh. Every movement is a transfer
/// between accounts held here (participants' balances and deposits, the pool, the main grid), so
/// Σ balances + Σ deposits + pool + grid = minted, exactly.
contract MarketLedger {
    address[] public authorities;
    mapping(address => bool) public isAuthority;
    uint256 public immutable quorum;

    /// Main-grid prices (units/MWh) and the delivery rules, fixed at deployment.
    int256 public immutable retailPrice;
    int256 public immutable feedInPrice;
    /// Deviation tolerated without penalty: toleranceWh + |cleared| × tolerancePermille / 1000.
    int256 public immutable toleranceWh;
    int256 public immutable tolerancePermille;
    /// Penalty per Wh of deviation beyond the tolerance, micro-units.
    int256 public immutable penaltyPerWh;
    /// Bound of a settlement line's energy and money (|x| ≤ 2^120; accounts hold far less anyway).
    int256 private constant LINE_LIMIT = 2 ** 120;

    /// A participant's account in one storage word (one SLOAD and one SSTORE per settlement line,
    /// packed by hand: a struct copied to storage is written field by field): balance and deposit in
    /// micro-units (int96 each), reputation = deliveries within tolerance (uint64). See loadAccount.
    mapping(address => uint256) private accounts;
    /// Penalties a deposit could not cover.
    mapping(address => int256) public debtOf;
    int256 public pool;
    int256 public grid;
    int256 public minted;

    /// Per interval, per book (keccak256 of its microgrid's id): the Merkle root of the book's admitted
    /// orders (docs/market.md, "Order commitments"). One word per book, not one per order.
    mapping(uint64 => mapping(bytes32 => bytes32)) public orderRoot;
    mapping(uint64 => mapping(bytes32 => uint256)) public votes;
    mapping(uint64 => mapping(address => bytes32)) public voteOf;
    mapping(uint64 => bytes32) public accepted;
    mapping(uint64 => bool) public settled;

    /// A settlement split over several transactions (docs/market.md, "Split settlement"): the result
    /// hash chained over the lines settled so far, how many, and the sum of their payments.
    struct Progress {
        bytes32 linesHash;
        uint64 lines;
        int192 tradeSum;
    }
    mapping(uint64 => Progress) public progress;

    /// Per interval, per meter (keccak256 of its id): the commitment to its reading (keccak256 of the
    /// reading's canonical bytes and a salt). The raw reading stays with the authority.
    mapping(uint64 => mapping(bytes32 => bytes32)) public readingCommitment;

    event OrdersCommitted(uint64 indexed interval, bytes32 book, bytes32 root, uint256 orders, address authority);
    event ClearingVote(uint64 indexed interval, address authority, bytes32 resultHash, uint256 votes);
    event ClearingAccepted(uint64 indexed interval, bytes32 resultHash);
    event Settled(uint64 indexed interval, uint256 participants, int256 penalties);
    event Penalty(uint64 indexed interval, address participant, int256 deviationWh, int256 taken, int256 debt);
    event ReadingCommitted(uint64 indexed interval, bytes32 meter, bytes32 commitment);

    modifier onlyAuthority() {
        require(isAuthority[msg.sender], "not an authority");
        _;
    }

    constructor(
        address[] memory auths,
        int256 retail,
        int256 feedIn,
        int256 tolWh,
        int256 tolPermille,
        int256 penalty
    ) {
        for (uint256 i = 0; i < auths.length; i++) {
            require(!isAuthority[auths[i]], "duplicate authority");
            authorities.push(auths[i]);
            isAuthority[auths[i]] = true;
        }
        quorum = auths.length / 2 + 1;
        for (uint256 i = 0; i < 5; i++) {
            int256 rule = [retail, feedIn, tolWh, tolPermille, penalty][i];
            require(rule >= 0 && rule < 2 ** 64, "rule out of range");
        }
        retailPrice = retail;
        feedInPrice = feedIn;
        toleranceWh = tolWh;
        tolerancePermille = tolPermille;
        penaltyPerWh = penalty;
    }

    /// Money entering the market from outside (a participant's payment in), recorded as minted.
    function credit(address[] calldata who, int256[] calldata amount) external onlyAuthority {
        require(who.length == amount.length, "length mismatch");
        for (uint256 i = 0; i < who.length; i++) {
            require(amount[i] > 0, "credit must be positive");
            addTo(who[i], amount[i], 0);
            minted += amount[i];
        }
    }

    /// Moves money from balances into deposits (the collateral orders need).
    function lockDeposit(address[] calldata who, int256[] calldata amount) external onlyAuthority {
        require(who.length == amount.length, "length mismatch");
        for (uint256 i = 0; i < who.length; i++) {
            require(amount[i] > 0, "deposit must be positive");
            addTo(who[i], -amount[i], amount[i]);
        }
    }

    /// Adds to a participant's balance and deposit; money taken from the balance must be there.
    function addTo(address who, int256 toBalance, int256 toDeposit) internal {
        (int256 balance, int256 deposit, uint256 reputation) = loadAccount(who);
        require(toBalance >= 0 || balance + toBalance >= 0, "balance too small");
        storeAccount(who, balance + toBalance, deposit + toDeposit, reputation);
    }

    /// Commits one book of the interval's orders (a microgrid's, by its authority) as the Merkle root
    /// of its order leaves, once per book and before the interval's clearing is accepted. Each
    /// participant with orders in it lists the deposit they need (Σ qty × depositPerWh), which its
    /// deposit must cover: an authority cannot commit orders a participant has not backed.
    function commitOrderRoot(
        uint64 interval,
        bytes32 book,
        bytes32 root,
        uint256 orders,
        address[] calldata who,
        int256[] calldata need
    ) external onlyAuthority {
        require(who.length == need.length, "length mismatch");
        require(root != bytes32(0) && orders > 0, "empty book");
        require(accepted[interval] == bytes32(0), "gate closed: clearing accepted");
        require(orderRoot[interval][book] == bytes32(0), "orders already committed");
        for (uint256 i = 0; i < who.length; i++) {
            (, int256 deposit, ) = loadAccount(who[i]);
            require(deposit >= need[i], "deposit too small");
        }
        orderRoot[interval][book] = root;
        emit OrdersCommitted(interval, book, root, orders, msg.sender);
    }

    /// True when `leaf` is the order at `index` of the book committed for the interval: the Merkle path
    /// from the leaf (siblings bottom-up; the index's bits say left or right) ends at the root.
    function proveOrder(uint64 interval, bytes32 book, bytes32 leaf, uint256 index, bytes32[] calldata path)
        external
        view
        returns (bool)
    {
        bytes32 root = orderRoot[interval][book];
        if (root == bytes32(0) || leaf == bytes32(0) || path.length > 32 || index >> path.length != 0) return false;
        bytes32 h = leaf;
        for (uint256 i = 0; i < path.length; i++) {
            h = (index >> i) & 1 == 0 ? keccak256(abi.encodePacked(h, path[i])) : keccak256(abi.encodePacked(path[i], h));
        }
        return h == root;
    }

    /// One vote per authority per interval; the result is accepted once a majority agree.
    function submitClearing(uint64 interval, bytes32 resultHash) external onlyAuthority {
        require(resultHash != bytes32(0), "empty result");
        require(voteOf[interval][msg.sender] == bytes32(0), "already voted");
        voteOf[interval][msg.sender] = resultHash;
        uint256 n = ++votes[interval][resultHash];
        emit ClearingVote(interval, msg.sender, resultHash, n);
        if (n >= quorum && accepted[interval] == bytes32(0)) {
            accepted[interval] = resultHash;
            emit ClearingAccepted(interval, resultHash);
        }
    }

    /// The hash authorities vote on: the cleared positions and payments of one interval. The lines are
    /// chained (h = keccak256(h, who, cleared, trade) per line) so that a settlement split over several
    /// transactions can be checked against it slice by slice.
    function resultHash(
        uint64 interval,
        address[] calldata who,
        int256[] calldata clearedWh,
        int256[] calldata trade,
        int256 poolShare,
        int256 gridShare
    ) public pure returns (bytes32) {
        require(who.length == clearedWh.length && who.length == trade.length, "length mismatch");
        bytes32 h = bytes32(0);
        for (uint256 i = 0; i < who.length; i++) h = keccak256(abi.encode(h, who[i], clearedWh[i], trade[i]));
        return closeHash(interval, who.length, h, poolShare, gridShare);
    }

    function closeHash(uint64 interval, uint256 lines, bytes32 linesHash, int256 poolShare, int256 gridShare)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(interval, lines, linesHash, poolShare, gridShare));
    }

    /// Settles a whole interval in one transaction (all or nothing): the accepted clearing's
    /// payments, then each participant's deviation from its cleared position against the meter:
    /// the deviation is traded with the main grid (shortfall at retail, surplus at feed-in), and
    /// beyond the tolerance a penalty is taken from the deposit into the pool (the rest is debt).
    function settle(
        uint64 interval,
        address[] calldata who,
        int256[] calldata clearedWh,
        int256[] calldata trade,
        int256 poolShare,
        int256 gridShare,
        int256[] calldata meteredWh
    ) external onlyAuthority {
        settleLines(interval, who, clearedWh, trade, meteredWh, poolShare, gridShare, true);
    }

    /// One slice of an interval's settlement, in order (the lines after those already settled). The
    /// last slice checks the chained hash against the accepted clearing and the money balance, and
    /// only then marks the interval settled; a failing last slice reverts, and the ledger submits the
    /// slices of one interval all or nothing (docs/market.md, "Split settlement").
    function settleSlice(
        uint64 interval,
        address[] calldata who,
        int256[] calldata clearedWh,
        int256[] calldata trade,
        int256[] calldata meteredWh,
        int256 poolShare,
        int256 gridShare,
        bool last
    ) external onlyAuthority {
        settleLines(interval, who, clearedWh, trade, meteredWh, poolShare, gridShare, last);
    }

    function settleLines(
        uint64 interval,
        address[] calldata who,
        int256[] calldata clearedWh,
        int256[] calldata trade,
        int256[] calldata meteredWh,
        int256 poolShare,
        int256 gridShare,
        bool last
    ) internal {
        require(!settled[interval], "interval already settled");
        require(accepted[interval] != bytes32(0), "no accepted clearing");
        require(
            clearedWh.length == who.length && trade.length == who.length && meteredWh.length == who.length,
            "length mismatch"
        );
        Progress memory pr = progress[interval];
        int256 sum = pr.tradeSum;
        int256 penalties = 0;
        int256 gridDelta = 0;
        bytes32 h = pr.linesHash;
        // The loop is the settlement's cost: every authority and every verifier re-executes it, and
        // the EVM's cost is per opcode, so it is written in assembly (about a third of the opcodes
        // the compiler made of the same loop in Solidity). Per line, in order: the chained hash;
        // each input within ±2^120 (the rules are below 2^64: the constructor), so no sum or
        // product below can overflow; the deviation traded with the grid; the penalty from the
        // deposit (the rest is debt) or a reputation point; the account written back in one word
        // (the layout of loadAccount/storeAccount, each money field within int96).
        uint256 bad = 0;
        {
            // The rules in memory (the loop has no stack room for them), scratch space after them.
            int256[6] memory rules =
                [retailPrice, feedInPrice, toleranceWh, tolerancePermille, penaltyPerWh, int256(uint256(Penalty.selector))];
            assembly ("memory-safe") {
                let m := mload(0x40)
                for { let i := 0 } lt(i, who.length) { i := add(i, 1) } {
                    let o := shl(5, i)
                    let p := calldataload(add(who.offset, o))
                    let cleared := calldataload(add(clearedWh.offset, o))
                    let tr := calldataload(add(trade.offset, o))
                    let dev := calldataload(add(meteredWh.offset, o))
                    if or(
                        shr(160, p),
                        or(
                            gt(add(cleared, shl(120, 1)), shl(121, 1)),
                            or(gt(add(tr, shl(120, 1)), shl(121, 1)), gt(add(dev, shl(120, 1)), shl(121, 1)))
                        )
                    ) {
                        bad := 1
                        break
                    }
                    dev := sub(dev, cleared)
                    // h = keccak256(abi.encode(h, who, cleared, trade))
                    mstore(m, h)
                    mstore(add(m, 0x20), p)
                    mstore(add(m, 0x40), cleared)
                    mstore(add(m, 0x60), tr)
                    h := keccak256(m, 0x80)
                    sum := add(sum, tr)
                    // The deviation traded with the main grid: surplus at feed-in, shortfall at retail.
                    let gridMoney := mul(dev, mload(add(rules, 0x20)))
                    if slt(dev, 0) { gridMoney := mul(dev, mload(rules)) }
                    gridDelta := sub(gridDelta, gridMoney)
                    mstore(m, p)
                    mstore(add(m, 0x20), accounts.slot)
                    let slot := keccak256(m, 0x40)
                    let w := sload(slot)
                    let bal := add(signextend(11, w), add(tr, gridMoney))
                    let deposit := signextend(11, shr(96, w))
                    w := shr(192, w) // the reputation from here on
                    // excess = |dev| − toleranceWh − |cleared| × tolerancePermille / 1000
                    let excess := sub(
                        sub(sub(xor(dev, sar(255, dev)), sar(255, dev)), mload(add(rules, 0x40))),
                        sdiv(mul(sub(xor(cleared, sar(255, cleared)), sar(255, cleared)), mload(add(rules, 0x60))), 1000)
                    )
                    switch sgt(excess, 0)
                    case 0 { w := add(w, 1) }
                    default {
                        let penalty := mul(excess, mload(add(rules, 0x80)))
                        let taken := penalty
                        if slt(deposit, penalty) { taken := deposit }
                        deposit := sub(deposit, taken)
                        penalties := add(penalties, taken)
                        penalty := sub(penalty, taken) // the debt
                        if sgt(penalty, 0) {
                            mstore(m, p)
                            mstore(add(m, 0x20), debtOf.slot)
                            let debtSlot := keccak256(m, 0x40)
                            sstore(debtSlot, add(sload(debtSlot), penalty))
                        }
                        // emit Penalty(interval, p, dev, taken, debt)
                        mstore(m, p)
                        mstore(add(m, 0x20), dev)
                        mstore(add(m, 0x40), taken)
                        mstore(add(m, 0x60), penalty)
                        log2(m, 0x80, mload(add(rules, 0xa0)), interval)
                    }
                    if or(
                        or(iszero(eq(signextend(11, bal), bal)), iszero(eq(signextend(11, deposit), deposit))),
                        shr(64, w)
                    ) {
                        bad := 1
                        break
                    }
                    let mask96 := sub(shl(96, 1), 1)
                    sstore(slot, or(and(bal, mask96), or(shl(96, and(deposit, mask96)), shl(192, w))))
                }
            }
        }
        require(bad == 0, "amount out of range");
        pr.linesHash = h;
        pr.lines += uint64(who.length);
        pr.tradeSum = int192(sum);
        pool += penalties;
        grid += gridDelta;
        if (!last) {
            progress[interval] = pr;
            return;
        }
        require(
            closeHash(interval, pr.lines, h, poolShare, gridShare) == accepted[interval],
            "not the accepted clearing"
        );
        // Conservation of the clearing itself: what buyers pay is what sellers, pool and grid get.
        require(sum + poolShare + gridShare == 0, "clearing does not balance");
        settled[interval] = true;
        delete progress[interval];
        pool += poolShare;
        grid += gridShare;
        emit Settled(interval, pr.lines, penalties);
    }

    /// Commitments to the interval's meter readings (one per meter, never overwritten).
    function commitReadings(uint64 interval, bytes32[] calldata meter, bytes32[] calldata commitment)
        external
        onlyAuthority
    {
        require(meter.length == commitment.length, "length mismatch");
        for (uint256 i = 0; i < meter.length; i++) {
            require(commitment[i] != bytes32(0), "empty commitment");
            require(readingCommitment[interval][meter[i]] == bytes32(0), "reading already committed");
            readingCommitment[interval][meter[i]] = commitment[i];
            emit ReadingCommitted(interval, meter[i], commitment[i]);
        }
    }

    /// True when `reading` (its canonical bytes) with `salt` is what was committed for the meter.
    function proveReading(uint64 interval, bytes32 meter, bytes calldata reading, bytes calldata salt)
        external
        view
        returns (bool)
    {
        bytes32 c = readingCommitment[interval][meter];
        return c != bytes32(0) && keccak256(abi.encodePacked(reading, salt)) == c;
    }

    function balanceOf(address who) external view returns (int256 balance) {
        (balance, , ) = loadAccount(who);
    }

    function depositOf(address who) external view returns (int256 deposit) {
        (, deposit, ) = loadAccount(who);
    }

    function reputationOf(address who) external view returns (uint256 reputation) {
        (, , reputation) = loadAccount(who);
    }

    /// Balance, deposit, debt and reputation of each participant, flattened (4 words each): one call
    /// reads every account back (gridloop ledger verify).
    function accountsOf(address[] calldata who) external view returns (int256[] memory out) {
        out = new int256[](who.length * 4);
        for (uint256 i = 0; i < who.length; i++) {
            (int256 balance, int256 deposit, uint256 reputation) = loadAccount(who[i]);
            out[4 * i] = balance;
            out[4 * i + 1] = deposit;
            out[4 * i + 2] = debtOf[who[i]];
            out[4 * i + 3] = int256(reputation);
        }
    }

    /// A participant's account from its storage word: balance (bits 0–95), deposit (96–191), both
    /// two's complement int96, and reputation (192–255).
    function loadAccount(address who) internal view returns (int256 balance, int256 deposit, uint256 reputation) {
        uint256 w = accounts[who];
        balance = int96(uint96(w));
        deposit = int96(uint96(w >> 96));
        reputation = w >> 192;
    }

    /// Writes an account in one word. Money must fit the 96-bit fields (±3.9·10^28 micro-units) and
    /// reputation 64 bits; anything else is refused.
    function storeAccount(address who, int256 balance, int256 deposit, uint256 reputation) internal {
        require(
            balance >= type(int96).min && balance <= type(int96).max && deposit >= type(int96).min
                && deposit <= type(int96).max,
            "amount out of range"
        );
        require(reputation <= type(uint64).max, "reputation out of range");
        accounts[who] =
            uint256(uint96(int96(balance))) | (uint256(uint96(int96(deposit))) << 96) | (reputation << 192);
    }

    function authorityCount() external view returns (uint256) {
        return authorities.length;
    }
}
