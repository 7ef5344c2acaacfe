<?php
// Runs the operations of argv[3] (JSON list) with examples/php/SocketIoEmitter.php against
// the Redis server at 127.0.0.1:argv[1], key prefix argv[2]; prints "ok" when all were
// published. Used by php-emitter.test.mjs.
declare(strict_types=1);
require __DIR__ . '/../../../examples/php/SocketIoEmitter.php';

[$_, $port, $key, $ops] = $argv;
$redis = new Redis();
$redis->connect('127.0.0.1', (int) $port, 5.0);
$root = new SocketIoEmitter($redis, $key);
foreach (json_decode($ops, true, 64, JSON_THROW_ON_ERROR) as $op) {
    $io = $root->of($op['nsp'] ?? '/')->to(...($op['to'] ?? []))->except(...($op['except'] ?? []));
    match ($op['op']) {
        'emit' => $io->emit($op['event'], ...$op['args']),
        'join' => $io->socketsJoin(...$op['rooms']),
        'leave' => $io->socketsLeave(...$op['rooms']),
        'disconnect' => $io->disconnectSockets($op['close'] ?? false),
        'server-side' => $root->of($op['nsp'] ?? '/')->serverSideEmit($op['event'], ...$op['args']),
    };
}
echo "ok\n";
