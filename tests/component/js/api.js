export const api = {
    greet(name) { return `Hello, ${name}! (${[...name].length} chars)`; },
    sum(xs) {
        let s = 0;
        for (const x of xs) s += x;
        return s;
    },
    mirror(p) { return { x: -p.x, y: -p.y, label: p.label.split('').reverse().join('') }; },
    area(s) {
        switch (s.tag) {
        case 'circle': return Math.PI * s.val * s.val;
        case 'rect': return Math.abs(s.val.x * s.val.y);
        default: return 0;
        }
    },
    maybe(x) { return x === undefined ? undefined : `got ${x}`; },
    check(x) {
        if (x < 0) throw `negative: ${x}`;
        return x * 2;
    },
    words(s) { return s.split(/\s+/).filter((w) => w.length > 0); },
    paint(c, p) {
        const next = { red: 'green', green: 'blue', blue: 'red' }[c];
        return [next, { read: !p.read, write: p.write, exec: !p.exec }, p.write];
    },
    reverse(b) { return Uint8Array.from(b).reverse(); },
    points(n) {
        const out = [];
        for (let i = 0; i < n; i++) out.push({ x: i, y: i * i, label: `p${i}` });
        return out;
    },
};
