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

    mapping(address => int256) public balanceOf;
    mapping(address => int256) public depositOf;
    /// Penalties a deposit could not cover.
    mapping(address => int256) public debtOf;
    /// Deliveries within tolerance (the reward for accurate delivery is reputation).
    mapping(address => uint256) public reputationOf;
    int256 public pool;
    int256 public grid;
    int256 public minted;

    mapping(uint64 => mapping(bytes32 => address)) public orderOwner;
    mapping(uint64 => mapping(bytes32 => uint256)) public votes;
    mapping(uint64 => mapping(address => bytes32)) public voteOf;
    mapping(uint64 => bytes32) public accepted;
    mapping(uint64 => bool) public settled;

    event OrderCommitted(uint64 indexed interval, bytes32 orderHash, address participant, int256 deposit);
    event ClearingVote(uint64 indexed interval, address authority, bytes32 resultHash, uint256 votes);
    event ClearingAccepted(uint64 indexed interval, bytes32 resultHash);
    event Settled(uint64 indexed interval, uint256 participants, int256 penalties);
    event Penalty(uint64 indexed interval, address participant, int256 deviationWh, int256 taken, int256 debt);

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
            balanceOf[who[i]] += amount[i];
            minted += amount[i];
        }
    }

    /// Moves money from balances into deposits (the collateral orders need).
    function lockDeposit(address[] calldata who, int256[] calldata amount) external onlyAuthority {
        require(who.length == amount.length, "length mismatch");
        for (uint256 i = 0; i < who.length; i++) {
            require(amount[i] > 0, "deposit must be positive");
            require(balanceOf[who[i]] >= amount[i], "balance too small");
            balanceOf[who[i]] -= amount[i];
            depositOf[who[i]] += amount[i];
        }
    }

    /// Commitments (hashes) of the interval's orders; each needs its deposit in place.
    function commitOrders(
        uint64 interval,
        bytes32[] calldata orderHash,
        address[] calldata who,
        int256[] calldata need
    ) external onlyAuthority {
        require(orderHash.length == who.length && who.length == need.length, "length mismatch");
        require(accepted[interval] == bytes32(0), "gate closed: clearing accepted");
        for (uint256 i = 0; i < who.length; i++) {
            require(orderOwner[interval][orderHash[i]] == address(0), "order already committed");
            require(depositOf[who[i]] >= need[i], "deposit too small");
            orderOwner[interval][orderHash[i]] = who[i];
            emit OrderCommitted(interval, orderHash[i], who[i], need[i]);
        }
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

    /// The hash authorities vote on: the cleared positions and payments of one interval.
    function resultHash(
        uint64 interval,
        address[] calldata who,
        int256[] calldata clearedWh,
        int256[] calldata trade,
        int256 poolShare,
        int256 gridShare
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(interval, who, clearedWh, trade, poolShare, gridShare));
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
        require(!settled[interval], "interval already settled");
        require(accepted[interval] != bytes32(0), "no accepted clearing");
        require(
            resultHash(interval, who, clearedWh, trade, poolShare, gridShare) == accepted[interval],
            "not the accepted clearing"
        );
        require(meteredWh.length == who.length, "length mismatch");
        settled[interval] = true;
        int256 sum = poolShare + gridShare;
        int256 penalties = 0;
        int256 gridDelta = gridShare;
        for (uint256 i = 0; i < who.length; i++) {
            address p = who[i];
            sum += trade[i];
            int256 dev = meteredWh[i] - clearedWh[i];
            int256 gridMoney = dev >= 0 ? dev * feedInPrice : dev * retailPrice;
            int256 bal = balanceOf[p] + trade[i] + gridMoney;
            gridDelta -= gridMoney;
            int256 absDev = dev >= 0 ? dev : -dev;
            int256 absCleared = clearedWh[i] >= 0 ? clearedWh[i] : -clearedWh[i];
            int256 excess = absDev - toleranceWh - (absCleared * tolerancePermille) / 1000;
            if (excess > 0) {
                int256 penalty = excess * penaltyPerWh;
                int256 dep = depositOf[p];
                int256 taken = penalty <= dep ? penalty : dep;
                depositOf[p] = dep - taken;
                debtOf[p] += penalty - taken;
                penalties += taken;
                emit Penalty(interval, p, dev, taken, penalty - taken);
            } else {
                reputationOf[p] += 1;
            }
            balanceOf[p] = bal;
        }
        // Conservation of the clearing itself: what buyers pay is what sellers, pool and grid get.
        require(sum == 0, "clearing does not balance");
        pool += poolShare + penalties;
        grid += gridDelta;
        emit Settled(interval, who.length, penalties);
    }

    function authorityCount() external view returns (uint256) {
        return authorities.length;
    }
}
